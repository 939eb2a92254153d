//! Which endpoints cutover talks to without TLS (loopback: emulators and the sandbox), and Azure's
//! default ARM endpoint: values the wizard checks typed URLs with, as the clients do.

/// Azure Resource Manager of the public cloud.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";

/// True for `localhost` and loopback IP addresses (IPv6 with or without brackets): the only hosts
/// cutover talks to without TLS (emulators and the sandbox).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// True for an ARM endpoint on a loopback address (the sandbox), where a static token is used.
pub fn is_local_endpoint(endpoint: &str) -> bool {
    url::Url::parse(endpoint.trim())
        .ok()
        .and_then(|u| u.host_str().map(is_loopback))
        .unwrap_or(false)
}
