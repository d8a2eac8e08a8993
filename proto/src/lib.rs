//! Generated gRPC types of every service. The `.proto` files beside this crate are the source of truth.

pub mod analytics {
    pub mod v1 {
        tonic::include_proto!("wellbeing.analytics.v1");
    }
}

pub mod cache {
    pub mod v1 {
        tonic::include_proto!("wellbeing.cache.v1");
    }
}

pub mod aggregator {
    pub mod v1 {
        tonic::include_proto!("wellbeing.aggregator.v1");
    }
}

pub use prost_types::Timestamp;
