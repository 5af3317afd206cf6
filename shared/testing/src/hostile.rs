//! Hostile requests for every RPC of a running server: messages built from the
//! proto descriptors with values chosen to break things (extreme numbers, dates
//! centuries away, control characters, huge strings and lists, unknown enum
//! numbers) mixed with plausible ones (so that calls get past the first check),
//! and bodies that are not protobuf at all. A server must answer each with a
//! status the caller can act on: never INTERNAL or UNKNOWN, and never panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// One RPC of a service, as its descriptor tells it.
#[derive(Clone, Debug)]
pub struct Rpc {
    /// `/package.Service/Method`.
    pub path: String,
    pub method: MethodDescriptor,
}

/// Every RPC of `service` (`aimaq.budget.v1.BudgetService`).
pub fn rpcs(service: &str) -> Vec<Rpc> {
    let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let service = pool
        .get_service_by_name(service)
        .unwrap_or_else(|| panic!("no service {service}"));
    service
        .methods()
        .map(|method| Rpc {
            path: format!("/{}/{}", service.full_name(), method.name()),
            method,
        })
        .collect()
}

/// What a hostile call ended with.
#[derive(Debug)]
pub struct Outcome {
    pub code: Code,
    pub message: String,
}

impl Outcome {
    /// INTERNAL and UNKNOWN are the server's faults, never an answer to input.
    pub fn is_fault(&self) -> bool {
        matches!(self.code, Code::Internal | Code::Unknown | Code::DataLoss)
    }
}

/// Sends `bodies` (raw protobuf) to `rpc` with `token`, and reads at most a few
/// answers within a short wait (a change feed never ends by itself).
pub async fn call(channel: &Channel, rpc: &Rpc, bodies: Vec<Bytes>, token: &str) -> Outcome {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if let Err(error) = grpc.ready().await {
        return Outcome {
            code: Code::Unavailable,
            message: format!("not ready: {error}"),
        };
    }
    let mut request = tonic::Request::new(futures::stream::iter(bodies));
    request
        .metadata_mut()
        .insert("authorization", crate::TestTokens::bearer(token));
    request.set_timeout(Duration::from_secs(10));
    let path = match http::uri::PathAndQuery::try_from(rpc.path.as_str()) {
        Ok(path) => path,
        Err(error) => panic!("{}: {error}", rpc.path),
    };
    let answer = grpc.streaming(request, path, RawCodec).await;
    let mut stream = match answer {
        Ok(response) => response.into_inner(),
        Err(status) => return outcome(&status),
    };
    let read = tokio::time::timeout(Duration::from_millis(300), async {
        for _ in 0..3 {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
        None
    })
    .await;
    match read {
        Ok(Some(status)) => outcome(&status),
        Ok(None) | Err(_) => Outcome {
            code: Code::Ok,
            message: String::new(),
        },
    }
}

fn outcome(status: &tonic::Status) -> Outcome {
    Outcome {
        code: status.code(),
        message: status.message().chars().take(300).collect(),
    }
}

/// Panics in this process since [`watch_panics`] was first called.
pub fn panics() -> usize {
    PANICS.load(Ordering::Relaxed)
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of this process (servers under test run in it), then lets
/// the default hook report it.
pub fn watch_panics() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
        }));
    });
}

/// A hostile message for `message`, nested at most `depth` levels more.
pub fn message(message: &MessageDescriptor, depth: u32) -> BoxedStrategy<DynamicMessage> {
    let descriptor = message.clone();
    let fields: Vec<BoxedStrategy<Option<(FieldDescriptor, Value)>>> = message
        .fields()
        .map(|field| {
            let chosen = field.clone();
            proptest::option::weighted(0.7, value_of(&field, depth))
                .prop_map(move |value| value.map(|value| (chosen.clone(), value)))
                .boxed()
        })
        .collect();
    fields
        .prop_map(move |values| {
            let mut built = DynamicMessage::new(descriptor.clone());
            for (field, value) in values.into_iter().flatten() {
                // A value that does not fit its field is not sent, rather than
                // failing the test harness.
                let _ = built.try_set_field(&field, value);
            }
            built
        })
        .boxed()
}

fn value_of(field: &FieldDescriptor, depth: u32) -> BoxedStrategy<Value> {
    let single = single_value(field, depth);
    if field.is_map() {
        return Just(Value::Map(Default::default())).boxed();
    }
    if !field.is_list() {
        return single;
    }
    let scalar = !matches!(field.kind(), Kind::Message(_));
    let mut choices = vec![(
        8,
        proptest::collection::vec(single.clone(), 0..4)
            .prop_map(Value::List)
            .boxed(),
    )];
    if scalar {
        // A list far longer than any request needs.
        choices.push((1, single.prop_map(|v| Value::List(vec![v; 20_000])).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

fn single_value(field: &FieldDescriptor, depth: u32) -> BoxedStrategy<Value> {
    let name = field.name().to_ascii_lowercase();
    match field.kind() {
        Kind::Message(inner) => {
            if depth == 0 {
                Just(Value::Message(DynamicMessage::new(inner))).boxed()
            } else if inner.full_name() == "aimaq.common.v1.Date" {
                date().prop_map(Value::Message).boxed()
            } else {
                message(&inner, depth - 1).prop_map(Value::Message).boxed()
            }
        }
        Kind::Enum(descriptor) => {
            let numbers: Vec<i32> = descriptor.values().map(|v| v.number()).collect();
            prop_oneof![
                8 => proptest::sample::select(numbers),
                1 => any::<i32>(),
            ]
            .prop_map(Value::EnumNumber)
            .boxed()
        }
        Kind::String => text(&name).prop_map(Value::String).boxed(),
        Kind::Bytes => proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| Value::Bytes(Bytes::from(b)))
            .boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => int64(&name).prop_map(Value::I64).boxed(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => int32(&name).prop_map(Value::I32).boxed(),
        Kind::Uint64 | Kind::Fixed64 => prop_oneof![
            4 => 0..100u64,
            1 => Just(u64::MAX),
            1 => Just(i64::MAX as u64 + 1),
            1 => any::<u64>(),
        ]
        .prop_map(Value::U64)
        .boxed(),
        Kind::Uint32 | Kind::Fixed32 => prop_oneof![
            4 => 0..100u32,
            1 => Just(u32::MAX),
            1 => any::<u32>(),
        ]
        .prop_map(Value::U32)
        .boxed(),
        Kind::Double => any::<f64>().prop_map(Value::F64).boxed(),
        Kind::Float => any::<f32>().prop_map(Value::F32).boxed(),
    }
}

/// A date message: mostly real recent dates, then every kind of impossible one.
fn date() -> BoxedStrategy<DynamicMessage> {
    let pool = DescriptorPool::decode(aimaq_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let descriptor = pool
        .get_message_by_name("aimaq.common.v1.Date")
        .expect("Date");
    prop_oneof![
        6 => (2019..2031i32, 1..13i32, 1..29i32),
        1 => (prop_oneof![Just(262_142), Just(-262_143), Just(0), Just(1), Just(9999), any::<i32>()], 1..13i32, 1..29i32),
        1 => (any::<i32>(), any::<i32>(), any::<i32>()),
    ]
    .prop_map(move |(year, month, day)| {
        let mut date = DynamicMessage::new(descriptor.clone());
        date.set_field_by_name("year", Value::I32(year));
        date.set_field_by_name("month", Value::I32(month));
        date.set_field_by_name("day", Value::I32(day));
        date
    })
    .boxed()
}

/// Texts that are nearly right for fields of this name, then hostile ones.
fn text(name: &str) -> BoxedStrategy<String> {
    let plausible: BoxedStrategy<String> = if name == "request_id" {
        "[a-z0-9]{12}".boxed()
    } else if name.contains("kato") || name == "parent" || name == "territory" {
        prop_oneof![
            Just("613633100".to_owned()),
            Just("610000000".to_owned()),
            Just("613600000".to_owned()),
            Just("613633000".to_owned()),
            "[0-9]{9}",
            "[0-9]{1,4}",
        ]
        .boxed()
    } else if name.contains("iin") || name.contains("bin") {
        prop_oneof![
            Just("900101300007".to_owned()),
            Just("900101300811".to_owned()),
            Just("940140000385".to_owned()),
            "[0-9]{12}",
        ]
        .boxed()
    } else if name.ends_with("code") || name.ends_with("program") {
        prop_oneof![Just("AUYL_EL_BESIGI".to_owned()), "[A-Z_]{1,12}"].boxed()
    } else {
        "[A-Za-z0-9 ._/-]{0,16}".boxed()
    };
    prop_oneof![
        6 => plausible,
        1 => Just(String::new()),
        1 => "\\PC{0,24}",
        1 => prop_oneof![
            Just("a\u{0}b".to_owned()),
            Just("\u{1}\u{7}\u{1b}[2J".to_owned()),
            Just("line\nbreak\r".to_owned()),
            Just("\u{202e}reversed".to_owned()),
        ],
        1 => prop_oneof![Just(4_000usize), Just(70_000usize)].prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

fn int64(name: &str) -> BoxedStrategy<i64> {
    let plausible: BoxedStrategy<i64> = if name.contains("version") {
        (0..4i64).boxed()
    } else if name.ends_with("_tiyn") {
        prop_oneof![1..1_000_000_000i64, Just(1_000_000_000_000_000)].boxed()
    } else {
        (0..1000i64).boxed()
    };
    prop_oneof![
        6 => plausible,
        1 => prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(i64::MAX - 1), Just(-1), Just(i64::MAX / 2 + 1)],
        1 => any::<i64>(),
    ]
    .boxed()
}

fn int32(name: &str) -> BoxedStrategy<i32> {
    let plausible: BoxedStrategy<i32> = if name.contains("year") {
        (2019..2031i32).boxed()
    } else if name == "page_size" {
        (0..100i32).boxed()
    } else {
        (0..1000i32).boxed()
    };
    prop_oneof![
        6 => plausible,
        1 => prop_oneof![Just(i32::MAX), Just(i32::MIN), Just(-1), Just(262_142), Just(-262_143)],
        1 => any::<i32>(),
    ]
    .boxed()
}

/// Bodies that are not the message the RPC expects: random bytes, truncated
/// varints, wrong wire types, lengths past the end.
pub fn malformed() -> BoxedStrategy<Bytes> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..64),
        Just(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        Just(vec![0x08, 0x80, 0x80, 0x80]),
        Just(vec![0x0b, 0x01]),
        Just(vec![0x0a, 0x05, b'a']),
        Just(vec![0xff; 16]),
    ]
    .prop_map(Bytes::from)
    .boxed()
}

/// The faults found, with the request that caused each.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<String>);

/// Fires `cases` hostile requests (a fifth of them malformed bodies) at every
/// RPC of `service` on `channel`, with `token`; returns what answered with a
/// fault or panicked, with the smallest request proptest found for it.
/// `AIMAQ_HOSTILE_CASES` overrides `cases`, for a longer search.
pub async fn fire_at_every_rpc(
    channel: &Channel,
    service: &str,
    token: &str,
    cases: u32,
) -> Findings {
    let cases = std::env::var("AIMAQ_HOSTILE_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(cases);
    let runtime = tokio::runtime::Handle::current();
    // proptest's runner is synchronous; each case's call runs on this runtime.
    tokio::task::block_in_place(|| fire_blocking(&runtime, channel, service, token, cases))
}

fn fire_blocking(
    runtime: &tokio::runtime::Handle,
    channel: &Channel,
    service: &str,
    token: &str,
    cases: u32,
) -> Findings {
    watch_panics();
    let findings = Mutex::new(Vec::new());
    for rpc in rpcs(service) {
        let input = rpc.method.input();
        let streaming = rpc.method.is_client_streaming();
        let messages =
            proptest::collection::vec(message(&input, 3), if streaming { 0..4 } else { 1..2 });
        let bodies = messages.prop_map(|list| {
            list.iter()
                .map(|m| Bytes::from(m.encode_to_vec()))
                .collect::<Vec<_>>()
        });
        let strategies = prop_oneof![4 => bodies, 1 => malformed().prop_map(|b| vec![b])];
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        });
        let result = runner.run(&strategies, |bodies| {
            let panics_before = panics();
            let outcome = runtime.block_on(call(channel, &rpc, bodies.clone(), token));
            if panics() > panics_before {
                return Err(TestCaseError::fail(format!(
                    "panicked; answered {:?}",
                    outcome.code
                )));
            }
            if outcome.is_fault() {
                return Err(TestCaseError::fail(format!(
                    "{:?}: {}",
                    outcome.code, outcome.message
                )));
            }
            Ok(())
        });
        if let Err(TestError::Fail(reason, bodies)) = result {
            let shown = describe(&input, &bodies);
            if let Ok(mut found) = findings.lock() {
                found.push(format!("{}: {reason} — request {shown}", rpc.path));
            }
        }
    }
    Findings(findings.into_inner().unwrap_or_default())
}

/// A request as text, cut short.
fn describe(input: &MessageDescriptor, bodies: &[Bytes]) -> String {
    let text = bodies
        .iter()
        .map(
            |body| match DynamicMessage::decode(input.clone(), body.clone()) {
                Ok(message) => format!("{{{}}}", message.to_text_format()),
                Err(_) => format!("malformed {body:?}"),
            },
        )
        .collect::<Vec<_>>()
        .join(", ");
    text.chars().take(600).collect()
}

/// Passes bytes through: hostile bodies go out as built, answers are not parsed.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Fires hostile requests at every RPC of `service` (see [`fire_at_every_rpc`])
/// and fails the test on any fault it finds.
pub async fn assert_no_faults(channel: &Channel, service: &str, token: &str) {
    let findings = fire_at_every_rpc(channel, service, token, 48).await;
    assert!(findings.0.is_empty(), "{:#?}", findings.0);
}

/// The fields a refusal names; fails the test unless it is INVALID_ARGUMENT.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}
