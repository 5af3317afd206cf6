//! Where a backend's replicas are: fixed URLs or a DNS name.

use aimaq_tls::{Outbound, Target};

/// Where a backend's replicas are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Fixed URLs (`https://host:port`).
    Fixed(Vec<String>),
    /// Every address of `host`, on `port`; reached through TLS (certificates
    /// verified for `host`) unless plaintext is allowed and no CA is given.
    Dns { host: String, port: u16 },
}

impl std::str::FromStr for Targets {
    type Err = String;

    /// `https://a:50052,https://b:50052`, or `dns://budget-headless:50052`.
    fn from_str(text: &str) -> Result<Targets, String> {
        if let Some(rest) = text.trim().strip_prefix("dns://") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("{text:?}: a DNS target needs a port (dns://host:port)"))?;
            let port = port
                .parse()
                .map_err(|_| format!("{text:?}: {port:?} is not a port"))?;
            if host.is_empty() {
                return Err(format!("{text:?} names no host"));
            }
            return Ok(Targets::Dns {
                host: host.to_owned(),
                port,
            });
        }
        let urls: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect();
        if urls.is_empty() {
            return Err("no backend URL given".into());
        }
        // Whether the scheme is allowed is for the outbound settings to say.
        let any_scheme = Outbound {
            tls: None,
            allow_plaintext: true,
        };
        for url in &urls {
            let plain = url.replacen("https://", "http://", 1);
            Target::parse(&plain, &any_scheme)?;
        }
        Ok(Targets::Fixed(urls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            "http://a:1, http://b:2".parse::<Targets>(),
            Ok(Targets::Fixed(vec![
                "http://a:1".into(),
                "http://b:2".into()
            ]))
        );
        assert_eq!(
            "https://a:1".parse::<Targets>(),
            Ok(Targets::Fixed(vec!["https://a:1".into()]))
        );
        assert_eq!(
            "dns://budget-headless.aimaq.svc:50052".parse::<Targets>(),
            Ok(Targets::Dns {
                host: "budget-headless.aimaq.svc".into(),
                port: 50052
            })
        );
        assert!("dns://budget".parse::<Targets>().is_err());
        assert!("dns://:50052".parse::<Targets>().is_err());
        assert!("budget:50052".parse::<Targets>().is_err());
        assert!("https://budget:50052".parse::<Targets>().is_ok());
        assert!("http://:50052".parse::<Targets>().is_err());
        assert!("".parse::<Targets>().is_err());
    }
}
