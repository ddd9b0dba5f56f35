//! Tests of choosing environments, naming the tenant and counting words.

use super::*;
use pal_core::inventory::EnvironmentId;

fn env(name: &str, display: &str) -> Environment {
    Environment {
        id: EnvironmentId::new(name),
        name: name.into(),
        display_name: display.into(),
        sku: None,
        is_default: false,
        dataverse_api_url: None,
        dataverse_url: None,
    }
}

fn ids(envs: &[Environment]) -> Vec<EnvironmentId> {
    envs.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn the_default_environment_names_the_tenant() {
    let t = "7C1E5B2A-3D4F-4E6A-8B9C-0D1E2F3A4B5C";
    let envs = vec![env("abc", "x"), env(&format!("Default-{t}"), "Contoso")];
    assert_eq!(default_env_tenant(&envs), Some(t.to_ascii_lowercase()));
    assert_eq!(default_env_tenant(&[env("default-nope", "x")]), None);
    assert_eq!(default_env_tenant(&[env("dé", "x")]), None);
}

#[test]
fn plurals() {
    assert_eq!(plural(1, "app"), "1 app");
    assert_eq!(plural(0, "component library"), "0 component libraries");
    assert_eq!(plural(2, "UPN"), "2 UPNs");
    assert_eq!(plural(30, "day"), "30 days");
}

#[test]
fn environments_are_chosen_by_id_or_name() {
    let all = vec![env("Default-1", "Contoso"), env("abc", "Sales")];
    let (chosen, unmatched) = choose(all.clone(), &["sales".into(), "nope".into()]);
    assert_eq!(ids(&chosen), vec![EnvironmentId::new("abc")]);
    assert_eq!(unmatched, vec!["nope".to_string()]);
    let (chosen, _) = choose(all, &["DEFAULT-1".into()]);
    assert_eq!(chosen.len(), 1);
}
