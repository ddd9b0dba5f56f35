//! Tests of the request pipeline: decoding, paging, retries, errors.

use super::*;

#[test]
fn decode_errors_name_the_json_path() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }
    let target = ApiBase::real()
        .target("https://api.flow.microsoft.com/x?api-version=1&$skiptoken=abc")
        .unwrap();
    let err = decode::<ValuePage<Item>>(&target, br#"{"value":[{"name":"a"},{"name":7}]}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("$.value[1].name"), "{err}");
    assert!(
        err.contains("https://api.flow.microsoft.com/x?api-version=1&$skiptoken=..."),
        "{err}"
    );
    assert!(!err.contains("abc"), "{err}");
}

#[test]
fn decode_refuses_trailing_garbage() {
    let target = ApiBase::real()
        .target("https://api.flow.microsoft.com/x")
        .unwrap();
    assert_eq!(decode::<u8>(&target, b" 7 \n").unwrap(), 7);
    let err = decode::<u8>(&target, b"7 {}").unwrap_err().to_string();
    assert!(err.contains("trailing characters"), "{err}");
}

#[test]
fn pages_read_both_next_link_spellings() {
    let p: ValuePage<u8> = serde_json::from_str(r#"{"value":[1],"@odata.nextLink":"n"}"#).unwrap();
    assert_eq!(p.into_parts("c"), (vec![1], Some("n".to_string())));
    let p: ValuePage<u8> = serde_json::from_str(r#"{"value":[2],"nextLink":""}"#).unwrap();
    assert_eq!(p.into_parts("c"), (vec![2], None));
}

#[test]
fn continuation_pages_follow_the_uri_or_the_token() {
    let first = "https://api.powerbi.com/v1.0/myorg/admin/activityevents?startDateTime='2026-11-01T00:00:00'&endDateTime='2026-11-01T23:59:59'";
    let p: ContinuationPage<u8> = serde_json::from_str(
        r#"{"activityEventEntities":[1],"continuationUri":"https://api.powerbi.com/next","continuationToken":"t","lastResultSet":false}"#,
    )
    .unwrap();
    assert_eq!(
        p.into_parts(first).1.as_deref(),
        Some("https://api.powerbi.com/next")
    );
    // A token as Learn's example shows it: already percent-encoded, so
    // it goes back as given (`%2B`, never `%252B`).
    let token = "%2BRID%3A244SAKlHY7YQAAAAAAAAAA%3D%3D%23RT%3A1%23TRC%3A5%23FPC%3AARAAAAAAAAAAFwAAAAAAAAA%3D";
    let p: ContinuationPage<u8> = serde_json::from_str(&format!(
        r#"{{"activityEventEntities":[2],"continuationToken":"{token}"}}"#
    ))
    .unwrap();
    assert_eq!(
        p.into_parts(first),
        (
            vec![2],
            Some(format!(
                "https://api.powerbi.com/v1.0/myorg/admin/activityevents?continuationToken=%27{token}%27"
            ))
        )
    );
    let p: ContinuationPage<u8> = serde_json::from_str(
        r#"{"activityEventEntities":[],"continuationUri":null,"continuationToken":null,"lastResultSet":false}"#,
    )
    .unwrap();
    assert_eq!(p.into_parts(first), (vec![], None));
}

/// A loopback server whose handler sees every request's path and count.
async fn serve(
    handler: impl Fn(&str, u32) -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (String, tokio::task::JoinHandle<()>) {
    use std::sync::atomic::{AtomicU32, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let handler = handler.clone();
        let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
        async move { handler(uri.path(), n) }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, task)
}

fn client(base: &str) -> HttpClient {
    let tokens = Arc::new(Tokens::new(crate::auth::Credential::Static(
        crate::auth::Secret::new("t"),
    )));
    let config = HttpConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(5),
        },
        ..HttpConfig::default()
    };
    HttpClient::new(ApiBase::parse(base).unwrap(), tokens, config).unwrap()
}

fn json_response(status: u16, body: &str) -> axum::response::Response {
    axum::response::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_pager_stops_when_a_next_link_repeats() {
    let (base, _task) = serve(|path, _| {
        let next = if path.ends_with("/p1") { "p2" } else { "p1" };
        json_response(
            200,
            &format!(r#"{{"value":[1],"nextLink":"https://graph.microsoft.com/{next}"}}"#),
        )
    })
    .await;
    let http = client(&base);
    let ctx = Ctx::new("test", "https://graph.microsoft.com");
    let err = http
        .get_all::<ValuePage<u8>>(&ctx, "https://graph.microsoft.com/p1")
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::RepeatedNextLink { .. }), "{err}");
    assert_eq!(http.requests("test", None), 2);
}

#[tokio::test]
async fn retries_until_success_and_renews_the_token_once_on_401() {
    let (base, _task) = serve(|_, n| match n {
        1 => json_response(503, "{}"),
        2 => json_response(401, "{}"),
        _ => json_response(200, r#"{"value":[7]}"#),
    })
    .await;
    let http = client(&base);
    let ctx = Ctx::new("test", "https://graph.microsoft.com");
    let items = http
        .get_all::<ValuePage<u8>>(&ctx, "https://graph.microsoft.com/x")
        .await
        .unwrap();
    assert_eq!(items, vec![7]);
    assert_eq!(http.requests("test", None), 3);
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let (base, _task) = serve(|_, _| json_response(429, r#"{"error":{"code":"TooMany"}}"#)).await;
    let http = client(&base);
    let err = http
        .get_json::<serde_json::Value>(
            &Ctx::new("test", "https://graph.microsoft.com"),
            "https://graph.microsoft.com/x",
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.to_string().contains("TooMany"), "{err}");
    assert_eq!(http.requests("test", None), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, _task) = serve(|_, _| json_response(403, "{}")).await;
    let http = client(&base);
    let err = http
        .get_json::<serde_json::Value>(
            &Ctx::new("test", "https://graph.microsoft.com"),
            "https://graph.microsoft.com/x",
        )
        .await
        .unwrap_err();
    assert!(err.is_denied());
    assert_eq!(http.requests("test", None), 1);
}

/// A page of `n` items, each about 100 bytes.
fn big_page(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"item-{i:08}","pad":"{}"}}"#, "x".repeat(70)))
        .collect();
    format!(r#"{{"value":[{}]}}"#, items.join(","))
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[tokio::test]
async fn large_pages_are_decoded_as_they_arrive() {
    let page = big_page(30_000);
    assert!(page.len() > 2 * body::STREAM_ABOVE);
    let (base, _task) = serve(move |_, _| json_response(200, &page)).await;
    let http = client(&base);
    let items = http
        .get_all::<ValuePage<Named>>(
            &Ctx::new("test", "https://graph.microsoft.com"),
            "https://graph.microsoft.com/x",
        )
        .await
        .unwrap();
    assert_eq!(items.len(), 30_000);
    assert_eq!(items[29_999].name, "item-00029999");
}

#[tokio::test]
async fn a_large_page_with_bad_json_names_the_path() {
    let page = big_page(30_000).replace(r#""name":"item-00020000""#, r#""name":20000"#);
    let (base, _task) = serve(move |_, _| json_response(200, &page)).await;
    let http = client(&base);
    let err = http
        .get_json::<ValuePage<Named>>(
            &Ctx::new("test", "https://graph.microsoft.com"),
            "https://graph.microsoft.com/x",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("$.value[20000].name"), "{err}");
    assert_eq!(http.requests("test", None), 1, "bad JSON is not retried");
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_not_read() {
    let page = big_page(30_000);
    let (base, _task) = serve(move |_, _| json_response(200, &page)).await;
    let tokens = Arc::new(Tokens::new(crate::auth::Credential::Static(
        crate::auth::Secret::new("t"),
    )));
    let config = HttpConfig {
        max_body: 1 << 20,
        ..HttpConfig::default()
    };
    let http = HttpClient::new(ApiBase::parse(&base).unwrap(), tokens, config).unwrap();
    let err = http
        .get_json::<ValuePage<Named>>(
            &Ctx::new("test", "https://graph.microsoft.com"),
            "https://graph.microsoft.com/x",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("larger than the 1 MB"), "{err}");
    assert_eq!(http.requests("test", None), 1);
}

#[tokio::test]
async fn a_large_body_cut_short_is_retried() {
    let page = big_page(30_000);
    let (base, _task) = serve(move |_, n| {
        if n == 1 {
            let half = page.as_bytes()[..page.len() * 2 / 3].to_vec();
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut",
                )),
            ];
            axum::response::Response::builder()
                .status(200)
                .body(axum::body::Body::from_stream(futures::stream::iter(chunks)))
                .unwrap()
        } else {
            json_response(200, &page)
        }
    })
    .await;
    let http = client(&base);
    let items = http
        .get_all::<ValuePage<Named>>(
            &Ctx::new("test", "https://graph.microsoft.com"),
            "https://graph.microsoft.com/x",
        )
        .await
        .unwrap();
    assert_eq!(items.len(), 30_000);
    assert_eq!(http.requests("test", None), 2);
}

const GRAPH: &str = "https://graph.microsoft.com";

#[tokio::test]
async fn a_token_never_goes_to_a_host_of_another_api() {
    // The next link names a host that is not Graph's: refused before it
    // is sent, so the server sees the first page only.
    let (base, _task) = serve(|_, _| {
        json_response(
            200,
            r#"{"value":[1],"@odata.nextLink":"https://attacker.example/steal"}"#,
        )
    })
    .await;
    let http = client(&base);
    let ctx = Ctx::new("test", GRAPH);
    let err = http
        .get_all::<ValuePage<u8>>(&ctx, "https://graph.microsoft.com/v1.0/x")
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::ForeignHost { .. }), "{err}");
    assert!(err.to_string().contains("attacker.example"), "{err}");
    assert_eq!(http.requests("test", None), 1);
    // A Graph URL with the Power BI audience is refused just the same.
    let err = http
        .get_json::<serde_json::Value>(
            &Ctx::new("test", "https://analysis.windows.net/powerbi/api"),
            "https://graph.microsoft.com/v1.0/x",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::ForeignHost { .. }), "{err}");
    assert_eq!(http.requests("test", None), 1);
}

#[tokio::test]
async fn a_redirect_off_the_host_is_a_gap_not_an_answer() {
    use std::sync::atomic::{AtomicU32, Ordering};
    // What the redirect points at: it must never be reached.
    let reached = Arc::new(AtomicU32::new(0));
    let seen = reached.clone();
    let (other, _other_task) = serve(move |_, _| {
        seen.fetch_add(1, Ordering::SeqCst);
        json_response(200, r#"{"value":[]}"#)
    })
    .await;
    let to_other = format!("{other}/graph.microsoft.com/v1.0/other");
    let (base, _task) = serve(move |path, _| {
        if path.ends_with("/same") {
            // The same host and API: followed.
            return axum::response::Response::builder()
                .status(302)
                .header("location", "/graph.microsoft.com/v1.0/x")
                .body(axum::body::Body::empty())
                .unwrap();
        }
        if path.ends_with("/x") {
            return json_response(200, r#"{"value":[5]}"#);
        }
        if path.ends_with("/api") {
            // Same server, another Microsoft host behind --api-base.
            return axum::response::Response::builder()
                .status(307)
                .header("location", "/api.powerbi.com/v1.0/x")
                .body(axum::body::Body::empty())
                .unwrap();
        }
        axum::response::Response::builder()
            .status(302)
            .header("location", to_other.clone())
            .body(axum::body::Body::empty())
            .unwrap()
    })
    .await;
    let http = client(&base);
    let ctx = Ctx::new("test", GRAPH);
    let items = http
        .get_all::<ValuePage<u8>>(&ctx, "https://graph.microsoft.com/v1.0/same")
        .await
        .unwrap();
    assert_eq!(items, vec![5]);
    for path in ["elsewhere", "api"] {
        let err = http
            .get_all::<ValuePage<u8>>(&ctx, &format!("https://graph.microsoft.com/v1.0/{path}"))
            .await
            .unwrap_err();
        assert!(matches!(err.status(), Some(302 | 307)), "{err}");
        assert!(err.to_string().contains("redirect"), "{err}");
    }
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_200_that_is_not_a_list_is_not_an_empty_list() {
    for body in [
        "{}",
        "[]",
        "[[1]]",
        "null",
        r#"{"error":{"code":"InternalError","message":"try later"}}"#,
        r#"{"items":[1]}"#,
        r#"{"value":null}"#,
    ] {
        let (base, _task) = serve(move |_, _| json_response(200, body)).await;
        let http = client(&base);
        let err = http
            .get_all::<ValuePage<u8>>(
                &Ctx::new("test", GRAPH),
                "https://graph.microsoft.com/v1.0/x",
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Decode { .. }), "{body}: {err}");
        if body.contains("InternalError") {
            assert!(
                err.to_string().contains("InternalError: try later"),
                "{err}"
            );
        }
    }
    // The documented empty list is one.
    let (base, _task) = serve(|_, _| json_response(200, r#"{"value":[]}"#)).await;
    let items = client(&base)
        .get_all::<ValuePage<u8>>(
            &Ctx::new("test", GRAPH),
            "https://graph.microsoft.com/v1.0/x",
        )
        .await
        .unwrap();
    assert!(items.is_empty());
    let page: Result<ContinuationPage<u8>, _> = serde_json::from_str(r#"{"continuationUri":null}"#);
    assert!(page.is_err());
    let page: ContinuationPage<u8> =
        serde_json::from_str(r#"{"activityEventEntities":[],"continuationUri":null}"#).unwrap();
    assert!(page.activity_event_entities.is_empty());
}

#[tokio::test]
async fn an_echoed_secret_never_reaches_a_decoded_value_or_an_error() {
    let secret = "echoed-bearer-token-0123456789abcdef";
    let _ = crate::auth::Secret::new(secret);
    let (base, _task) = serve(move |path, _| {
        if path.ends_with("/err") {
            json_response(
                400,
                &format!(r#"{{"error":{{"code":"Bad","message":"token {secret} refused"}}}}"#),
            )
        } else {
            json_response(200, &format!(r#"{{"value":["{secret}"]}}"#))
        }
    })
    .await;
    let http = client(&base);
    let ctx = Ctx::new("test", GRAPH);
    let items = http
        .get_all::<ValuePage<String>>(&ctx, "https://graph.microsoft.com/v1.0/x")
        .await
        .unwrap();
    assert_eq!(items, vec![pal_core::secrets::MARK.to_string()]);
    let err = http
        .get_json::<serde_json::Value>(&ctx, "https://graph.microsoft.com/v1.0/err")
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains(secret), "{err}");
    assert!(err.contains(pal_core::secrets::MARK), "{err}");
    // A large page, decoded as it arrives, is scrubbed too.
    let big = format!(
        r#"{{"value":[{}"{secret}"]}}"#,
        format!(r#""{}","#, "x".repeat(100)).repeat(30_000)
    );
    assert!(big.len() > body::STREAM_ABOVE);
    let (base, _task) = serve(move |_, _| json_response(200, &big)).await;
    let items = client(&base)
        .get_all::<ValuePage<String>>(&ctx, "https://graph.microsoft.com/v1.0/x")
        .await
        .unwrap();
    assert_eq!(
        items.last().map(String::as_str),
        Some(pal_core::secrets::MARK)
    );
}

#[test]
fn error_bodies_are_summarised() {
    assert_eq!(
        error_detail(br#"{"error":{"code":"Forbidden","message":"no"}}"#).as_deref(),
        Some("Forbidden: no")
    );
    assert_eq!(error_detail(b"<html>"), None);
}
