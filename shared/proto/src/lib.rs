//! The Aimaq gRPC contracts, generated at build time from `proto/`.

pub mod bounds;
pub mod codec;

/// Encoded `FileDescriptorSet` of every Aimaq proto file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/aimaq_descriptor.bin"));

/// [`FILE_DESCRIPTOR_SET`] decoded once, for code that reads messages by
/// their descriptors.
pub fn descriptor_pool() -> Option<&'static prost_reflect::DescriptorPool> {
    static POOL: std::sync::OnceLock<Option<prost_reflect::DescriptorPool>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

pub mod common {
    pub mod v1 {
        tonic::include_proto!("aimaq.common.v1");
    }
}

pub mod governance {
    pub mod v1 {
        tonic::include_proto!("aimaq.governance.v1");
    }
}

pub mod budget {
    pub mod v1 {
        tonic::include_proto!("aimaq.budget.v1");
    }
}

pub mod grants {
    pub mod v1 {
        tonic::include_proto!("aimaq.grants.v1");
    }
}

pub mod gateway {
    pub mod v1 {
        tonic::include_proto!("aimaq.gateway.v1");
    }
}

/// A timestamp from microseconds since the Unix epoch, the precision the stores keep.
pub fn timestamp_from_micros(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        // Always in 0..1_000_000_000, so the conversion cannot fail.
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}

/// A calendar date on the wire.
pub fn date_to_proto(date: chrono::NaiveDate) -> common::v1::Date {
    use chrono::Datelike;
    common::v1::Date {
        year: date.year(),
        month: i32::try_from(date.month()).unwrap_or(0),
        day: i32::try_from(date.day()).unwrap_or(0),
    }
}

/// A calendar date from the wire, `None` when it is not a real date within the
/// years every date must fall in ([`aimaq_types::bounds::date`]).
pub fn date_from_proto(date: &common::v1::Date) -> Option<chrono::NaiveDate> {
    aimaq_types::bounds::date(date.year, date.month, date.day).ok()
}
