//! pal-client: reads (and, for `fix --apply` and `attest`, writes) a
//! customer tenant through Microsoft's APIs. One request pipeline
//! ([`http`]), sign-in ([`auth`]), one module per API under [`sources`]
//! that owns its wire types, the collection of an inventory, the delta
//! cache, and [`audit::audit`], the one audit every command runs.

pub mod apply;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod http;
pub mod sources;
pub mod tls;
