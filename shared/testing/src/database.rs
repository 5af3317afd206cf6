use sea_orm::{ConnectionTrait, Database};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database made for one test and removed after it.
#[derive(Debug)]
pub struct TestDatabase {
    pub engine: Engine,
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Another handle on a database that its first handle cleans up.
    Nothing,
    Directory(#[allow(dead_code)] tempfile::TempDir),
    DropPostgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A SQLite file in a fresh temporary directory.
    /// Another handle on this database, for a second server (a replica, or
    /// one restarted) while the first keeps it; only the first cleans it up.
    pub fn another_handle(&self) -> TestDatabase {
        TestDatabase {
            engine: self.engine,
            url: self.url.clone(),
            cleanup: Cleanup::Nothing,
        }
    }

    pub async fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("test.sqlite").display()
        );
        TestDatabase {
            engine: Engine::Sqlite,
            url,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a message) when the server is
    /// unreachable and PostgreSQL is not required.
    pub async fn postgres() -> Option<TestDatabase> {
        let admin_url = std::env::var("AIMAQ_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let required = std::env::var("AIMAQ_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        TestDatabase::postgres_at(admin_url, required).await
    }

    /// A fresh database on the PostgreSQL cluster that takes only TLS
    /// connections (`AIMAQ_TEST_POSTGRES_TLS_URL`, made by `.ci/postgres-tls`),
    /// or `None` (with a message) when there is none and it is not required
    /// (`AIMAQ_REQUIRE_POSTGRES_TLS=1`).
    pub async fn postgres_tls() -> Option<TestDatabase> {
        let required = std::env::var("AIMAQ_REQUIRE_POSTGRES_TLS").is_ok_and(|v| v == "1");
        match std::env::var("AIMAQ_TEST_POSTGRES_TLS_URL") {
            Ok(admin_url) => TestDatabase::postgres_at(admin_url, required).await,
            Err(_) if !required => {
                eprintln!(
                    "SKIPPED: PostgreSQL over TLS: AIMAQ_TEST_POSTGRES_TLS_URL is not set (.ci/postgres-tls prints it)"
                );
                None
            }
            Err(_) => panic!(
                "PostgreSQL over TLS is required (AIMAQ_REQUIRE_POSTGRES_TLS=1) but AIMAQ_TEST_POSTGRES_TLS_URL is not set"
            ),
        }
    }

    async fn postgres_at(admin_url: String, required: bool) -> Option<TestDatabase> {
        let admin = match Database::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(error) if !required => {
                eprintln!("SKIPPED: PostgreSQL test: {admin_url} is unreachable ({error})");
                return None;
            }
            Err(error) => panic!("PostgreSQL is required but {admin_url} is unreachable: {error}"),
        };
        let name = format!("aimaq_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = replace_database(&admin_url, &name);
        Some(TestDatabase {
            engine: Engine::Postgres,
            url,
            cleanup: Cleanup::DropPostgres { admin_url, name },
        })
    }
}

/// The URL with its database name replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::DropPostgres { admin_url, name } = &self.cleanup {
            let admin_url = admin_url.clone();
            let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            // Drop cannot await; a short-lived runtime on its own thread can.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let admin = Database::connect(&admin_url).await.ok()?;
                    let result = admin.execute_unprepared(&statement).await;
                    admin.close().await.ok();
                    result.ok()
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(_))) {
                eprintln!("could not drop test database {name}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
