use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use aimaq_config::{
    AuthConfig, DatabaseUrl, LimitsConfig, MigrateMode, ServerConfig, TelemetryConfig,
};
use aimaq_tls::Outbound;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::{TestDatabase, TestTokens};

/// A shutdown future handed to a server under test.
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service running in this process on an ephemeral port, with its own database
/// and the test key pair. Dropping it stops the server.
pub struct TestServer {
    pub address: SocketAddr,
    pub database: TestDatabase,
    /// How test clients reach it.
    pub client: Outbound,
    stop: Option<oneshot::Sender<()>>,
    _task: JoinHandle<()>,
    _key_dir: tempfile::TempDir,
}

/// Configuration for a server under test: its database, the test key set, a
/// short drain.
pub fn test_config(database_url: &str, token_keys: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: DatabaseUrl::new(database_url),
        migrate: MigrateMode::Auto,
        auth: AuthConfig {
            trusted_forwarders: vec![crate::pki::SERVER_NAME.into()],
            ..AuthConfig::new(token_keys.to_path_buf())
        },
        tls: crate::TestPki::get().server_config(),
        limits: LimitsConfig {
            shutdown_grace: Duration::from_secs(5),
            ..LimitsConfig::default()
        },
        telemetry: TelemetryConfig::default(),
        log: crate::test_log_key(),
        witness: aimaq_config::WitnessConfig::default(),
        relay: aimaq_config::RelayConfig::default(),
    }
}

impl TestServer {
    /// Starts `run` (a service's `run` function) and waits until its health check
    /// answers.
    pub async fn start<F, Fut, E>(database: TestDatabase, tokens: &TestTokens, run: F) -> TestServer
    where
        F: FnOnce(ServerConfig, TcpListener, ShutdownSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        TestServer::start_at(any_port, database, tokens, run).await
    }

    /// As [`TestServer::start`], on `address`: a server restarted where it was
    /// (the port may take a moment to be free again).
    pub async fn start_at<F, Fut, E>(
        address: SocketAddr,
        database: TestDatabase,
        tokens: &TestTokens,
        run: F,
    ) -> TestServer
    where
        F: FnOnce(ServerConfig, TcpListener, ShutdownSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let client = crate::TestPki::get().client();
        TestServer::start_for(client, address, database, tokens, run).await
    }

    /// As [`TestServer::start_at`], for a server whose `run` changes its TLS
    /// settings: `client` is how tests reach it then.
    pub async fn start_for<F, Fut, E>(
        client: Outbound,
        address: SocketAddr,
        database: TestDatabase,
        tokens: &TestTokens,
        run: F,
    ) -> TestServer
    where
        F: FnOnce(ServerConfig, TcpListener, ShutdownSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let runtime = tokio::runtime::Handle::current();
        TestServer::launch(runtime, client, address, database, tokens, run).await
    }

    /// As [`TestServer::start`], with the server's tasks on `runtime`: a
    /// benchmark's servers run apart from its load generator, as they would in
    /// a process of their own.
    pub async fn start_on<F, Fut, E>(
        runtime: tokio::runtime::Handle,
        database: TestDatabase,
        tokens: &TestTokens,
        run: F,
    ) -> TestServer
    where
        F: FnOnce(ServerConfig, TcpListener, ShutdownSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let client = crate::TestPki::get().client();
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        TestServer::launch(runtime, client, any_port, database, tokens, run).await
    }

    async fn launch<F, Fut, E>(
        runtime: tokio::runtime::Handle,
        client: Outbound,
        address: SocketAddr,
        database: TestDatabase,
        tokens: &TestTokens,
        run: F,
    ) -> TestServer
    where
        F: FnOnce(ServerConfig, TcpListener, ShutdownSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        init_logs();
        let key_dir = tempfile::tempdir().expect("key directory");
        tokens
            .keys
            .publish(key_dir.path())
            .expect("write the key set");
        let bind_until = tokio::time::Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match std::net::TcpListener::bind(address) {
                Ok(listener) => break listener,
                Err(error) if tokio::time::Instant::now() < bind_until => {
                    tracing::debug!(%error, %address, "port busy; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("cannot bind {address}: {error}"),
            }
        };
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let listener = {
            let _in_server_runtime = runtime.enter();
            TcpListener::from_std(listener).expect("listener")
        };
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: ShutdownSignal = Box::pin(async move {
            let _ = stopped.await;
        });
        let served = run(
            test_config(&database.url, key_dir.path()),
            listener,
            shutdown,
        );
        let task = runtime.spawn(async move {
            if let Err(error) = served.await {
                panic!("server under test failed: {error}");
            }
        });
        let server = TestServer {
            address,
            database,
            client,
            stop: Some(stop),
            _task: task,
            _key_dir: key_dir,
        };
        server.wait_until_answering().await;
        server
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// A channel to the server with the test client's certificate.
    pub async fn channel(&self) -> Channel {
        aimaq_tls::Target::parse(&self.url(), &self.client)
            .expect("the server's URL")
            .channel()
    }

    async fn wait_until_answering(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        // Up once it answers: a gateway whose backends are missing (as some
        // tests want) answers NOT_SERVING.
        while aimaq_server::health(&self.url(), &self.client, "")
            .await
            .is_none()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A request carrying `token` as its bearer token.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", TestTokens::bearer(token));
    request
}

/// Logs of servers under test go to the test's captured output (shown when it
/// fails); `RUST_LOG` chooses the level, `warn` by default.
pub fn init_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
