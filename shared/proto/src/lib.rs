//! The Aimaq gRPC contracts, generated at build time from `proto/`.

/// Encoded `FileDescriptorSet` of every Aimaq proto file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/aimaq_descriptor.bin"));

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
