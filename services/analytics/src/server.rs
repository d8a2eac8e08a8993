//! The tonic service: translates protobuf messages to calls of the modules that do the work,
//! and their errors to gRPC statuses. No SQL and no arithmetic here.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_proto::Timestamp;
use wellbeing_proto::analytics::v1::analytics_server::Analytics;
use wellbeing_proto::analytics::v1::{
    GetUserRequest, GetUserResponse, LoginRequest, LoginResponse, PoolStatsRequest,
    PoolStatsResponse, QuickStatsRequest, RecordEventResponse, RecordScreenTimeRequest,
    RefreshSessionRequest, RefreshSessionResponse, RegisterUserRequest, RegisterUserResponse, User,
    ViewResponse,
};

use crate::accounts::{Accounts, Registration};
use crate::ingest::{Ingest, Recorded, ScreenTimeInput};
use crate::store::users::UserRow;
use crate::views::{View, Views};

pub struct AnalyticsService {
    pub pool: PgPool,
    pub accounts: Accounts,
    pub ingest: Ingest,
    pub views: Views,
}

#[tonic::async_trait]
impl Analytics for AnalyticsService {
    async fn register_user(
        &self,
        request: Request<RegisterUserRequest>,
    ) -> Result<Response<RegisterUserResponse>, Status> {
        let request = request.into_inner();
        let user = self
            .accounts
            .register(Registration {
                username: &request.username,
                email: &request.email,
                password: &request.password,
                timezone: &request.timezone,
            })
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(Response::new(RegisterUserResponse {
            user: Some(user_message(user)),
        }))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let request = request.into_inner();
        let (user, token) = self
            .accounts
            .login(&request.email, &request.password)
            .await?;
        Ok(Response::new(LoginResponse {
            user_id: user.id.to_string(),
            refresh_token: token.token,
            refresh_expires_at: Some(timestamp(token.expires_at)),
        }))
    }

    async fn refresh_session(
        &self,
        request: Request<RefreshSessionRequest>,
    ) -> Result<Response<RefreshSessionResponse>, Status> {
        let (user_id, token) = self
            .accounts
            .refresh(&request.into_inner().refresh_token)
            .await?;
        Ok(Response::new(RefreshSessionResponse {
            user_id: user_id.to_string(),
            refresh_token: token.token,
            refresh_expires_at: Some(timestamp(token.expires_at)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        let user = self.accounts.user(user_id).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_message(user)),
        }))
    }

    async fn record_screen_time(
        &self,
        request: Request<RecordScreenTimeRequest>,
    ) -> Result<Response<RecordEventResponse>, Status> {
        let request = request.into_inner();
        let recorded = self
            .ingest
            .record_screen_time(ScreenTimeInput {
                user_id: parse_user_id(&request.user_id)?,
                event_id: request.event_id,
                app_name: request.app_name,
                duration_minutes: request.duration_minutes,
                category: request.category,
                timestamp: request.timestamp.map(from_timestamp).transpose()?,
            })
            .await?;
        Ok(Response::new(record_response(recorded)))
    }

    async fn quick_stats(
        &self,
        request: Request<QuickStatsRequest>,
    ) -> Result<Response<ViewResponse>, Status> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        Ok(Response::new(view_response(
            self.views.quick_stats(user_id).await?,
        )))
    }

    async fn pool_stats(
        &self,
        _request: Request<PoolStatsRequest>,
    ) -> Result<Response<PoolStatsResponse>, Status> {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        Ok(Response::new(PoolStatsResponse {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            max: self.pool.options().get_max_connections(),
        }))
    }
}

fn parse_user_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw).map_err(|_| ServiceError::invalid("user_id", "user_id must be a UUID"))
}

fn user_message(user: UserRow) -> User {
    User {
        user_id: user.id.to_string(),
        username: user.username,
        email: user.email,
        timezone: user.timezone,
        created_at: Some(timestamp(user.created_at)),
    }
}

fn record_response(recorded: Recorded) -> RecordEventResponse {
    RecordEventResponse {
        record_json: recorded.record_json.into(),
        created: recorded.created,
    }
}

fn view_response(view: View) -> ViewResponse {
    ViewResponse {
        json: view.json,
        cached: view.cached,
        etag: view.etag,
    }
}

pub fn timestamp(instant: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: instant.timestamp(),
        nanos: i32::try_from(instant.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn from_timestamp(timestamp: Timestamp) -> Result<DateTime<Utc>, ServiceError> {
    u32::try_from(timestamp.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(timestamp.seconds, nanos))
        .ok_or_else(|| ServiceError::invalid("timestamp", "timestamp is out of range"))
}
