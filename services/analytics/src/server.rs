//! The tonic service: translates protobuf messages to calls of the modules that do the work,
//! and their errors to gRPC statuses. No SQL and no arithmetic here.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use futures_util::StreamExt;
use sqlx::PgPool;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_proto::Timestamp;
use wellbeing_proto::analytics::v1::analytics_server::Analytics;
use wellbeing_proto::analytics::v1::track_event::Kind;
use wellbeing_proto::analytics::v1::*;

use crate::accounts::{Accounts, Registration};
use crate::goals::{GoalChanges, Goals};
use crate::ingest::{Ingest, Recorded};
use crate::privacy::Privacy;
use crate::privacy_rights::PrivacyRights;
use crate::sessions::{IssuedRefreshToken, Sessions};
use crate::views::{View, Views};
use wellbeing_store::users::UserRow;

pub struct AnalyticsService {
    pub pool: PgPool,
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub ingest: Ingest,
    pub views: Views,
    pub goals: Goals,
    pub privacy: Privacy,
    pub rights: PrivacyRights,
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Analytics for AnalyticsService {
    async fn register_user(
        &self,
        request: Request<RegisterUserRequest>,
    ) -> Answer<RegisterUserResponse> {
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

    async fn login(&self, request: Request<LoginRequest>) -> Answer<LoginResponse> {
        let request = request.into_inner();
        let token = self
            .accounts
            .login(
                &request.email,
                &request.password,
                Some(request.device_name.as_str()).filter(|name| !name.is_empty()),
                Some(request.user_agent.as_str()),
            )
            .await?;
        let (user_id, refresh_token, refresh_expires_at, session_id, issued_at) =
            token_fields(token);
        Ok(Response::new(LoginResponse {
            user_id,
            refresh_token,
            refresh_expires_at,
            session_id,
            issued_at,
        }))
    }

    async fn refresh_session(
        &self,
        request: Request<RefreshSessionRequest>,
    ) -> Answer<RefreshSessionResponse> {
        let token = self
            .sessions
            .refresh(&request.into_inner().refresh_token)
            .await?;
        let (user_id, refresh_token, refresh_expires_at, session_id, issued_at) =
            token_fields(token);
        Ok(Response::new(RefreshSessionResponse {
            user_id,
            refresh_token,
            refresh_expires_at,
            session_id,
            issued_at,
        }))
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Answer<SessionsEndedResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let ended = self
            .sessions
            .logout(user_id, &request.refresh_token)
            .await?;
        Ok(Response::new(ended_message(ended)))
    }

    async fn logout_all(
        &self,
        request: Request<LogoutAllRequest>,
    ) -> Answer<SessionsEndedResponse> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        let ended = self.sessions.logout_all(user_id).await?;
        Ok(Response::new(ended_message(ended)))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Answer<ChangePasswordResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let session_id = parse_session_id(&request.session_id)?;
        let (token, ended) = self
            .accounts
            .change_password(
                user_id,
                session_id,
                &request.current_password,
                &request.new_password,
            )
            .await?;
        Ok(Response::new(ChangePasswordResponse {
            refresh_token: token.token,
            refresh_expires_at: Some(timestamp(token.expires_at)),
            issued_at: Some(timestamp(token.issued_at)),
            ended: ended_message(ended).ended,
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Answer<ListSessionsResponse> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        let sessions = self.sessions.list(user_id).await?;
        Ok(Response::new(ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|session| SessionInfo {
                    session_id: session.id.to_string(),
                    device: session.device,
                    created_at: Some(timestamp(session.created_at)),
                    last_used_at: Some(timestamp(session.last_used_at)),
                })
                .collect(),
        }))
    }

    async fn end_session(
        &self,
        request: Request<EndSessionRequest>,
    ) -> Answer<SessionsEndedResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let session_id = parse_session_id(&request.session_id)?;
        let ended = self.sessions.end(user_id, session_id).await?;
        Ok(Response::new(ended_message(ended)))
    }

    async fn revoked_sessions(
        &self,
        request: Request<RevokedSessionsRequest>,
    ) -> Answer<SessionsEndedResponse> {
        let within = request.into_inner().within_seconds;
        let ended = self.sessions.ended_within(within).await?;
        Ok(Response::new(ended_message(ended)))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Answer<GetUserResponse> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        let user = self.accounts.user(user_id).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_message(user)),
        }))
    }

    async fn update_user(&self, request: Request<UpdateUserRequest>) -> Answer<GetUserResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let user = self
            .accounts
            .update_profile(
                user_id,
                request.username.as_deref(),
                request.timezone.as_deref(),
            )
            .await?;
        // The zone is kept in process (and in view keys): drop it everywhere.
        self.views.profile_changed(user_id).await;
        Ok(Response::new(GetUserResponse {
            user: Some(user_message(user)),
        }))
    }

    type ExportUserDataStream =
        Pin<Box<dyn Stream<Item = Result<ExportUserDataResponse, Status>> + Send + 'static>>;

    async fn export_user_data(
        &self,
        request: Request<ExportUserDataRequest>,
    ) -> Answer<Self::ExportUserDataStream> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        let chunks = self.rights.export(user_id).await?;
        let stream = ReceiverStream::new(chunks).map(|chunk| {
            chunk
                .map(|json| ExportUserDataResponse { json })
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn erase_user(&self, request: Request<EraseUserRequest>) -> Answer<EraseUserResponse> {
        let user_id = parse_user_id(&request.into_inner().user_id)?;
        self.rights.erase(user_id).await?;
        Ok(Response::new(EraseUserResponse {}))
    }

    async fn record_session(
        &self,
        request: Request<RecordSessionRequest>,
    ) -> Answer<RecordEventResponse> {
        let request = request.into_inner();
        self.record(&request.user_id, request.event.map(Kind::Session))
            .await
    }

    async fn record_screen_time(
        &self,
        request: Request<RecordScreenTimeRequest>,
    ) -> Answer<RecordEventResponse> {
        let request = request.into_inner();
        self.record(&request.user_id, request.event.map(Kind::ScreenTime))
            .await
    }

    async fn record_focus_session(
        &self,
        request: Request<RecordFocusSessionRequest>,
    ) -> Answer<RecordEventResponse> {
        let request = request.into_inner();
        self.record(&request.user_id, request.event.map(Kind::FocusSession))
            .await
    }

    async fn record_break(
        &self,
        request: Request<RecordBreakRequest>,
    ) -> Answer<RecordEventResponse> {
        let request = request.into_inner();
        self.record(&request.user_id, request.event.map(Kind::BreakEvent))
            .await
    }

    async fn record_notification(
        &self,
        request: Request<RecordNotificationRequest>,
    ) -> Answer<RecordEventResponse> {
        let request = request.into_inner();
        self.record(&request.user_id, request.event.map(Kind::Notification))
            .await
    }

    async fn record_distraction(
        &self,
        request: Request<RecordDistractionRequest>,
    ) -> Answer<RecordEventResponse> {
        let request = request.into_inner();
        self.record(&request.user_id, request.event.map(Kind::Distraction))
            .await
    }

    async fn track_batch(&self, request: Request<TrackBatchRequest>) -> Answer<TrackBatchResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let events = request.events.into_iter().map(|event| event.kind).collect();
        let outcome = self.ingest.record_batch(user_id, events).await?;
        Ok(Response::new(TrackBatchResponse {
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
        }))
    }

    async fn daily_summary(&self, request: Request<DailySummaryRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(
            self.views
                .daily_summary(user_id, request.date.as_deref())
                .await,
        )
    }

    async fn weekly_summary(&self, request: Request<WeeklySummaryRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(
            self.views
                .weekly_summary(user_id, request.end_date.as_deref())
                .await,
        )
    }

    async fn apps_usage(&self, request: Request<AppsUsageRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        view(
            self.views
                .apps_usage(parse_user_id(&request.user_id)?, request.days)
                .await,
        )
    }

    async fn dashboard(&self, request: Request<DashboardRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(self.views.dashboard(user_id).await)
    }

    async fn quick_stats(&self, request: Request<QuickStatsRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(self.views.quick_stats(user_id).await)
    }

    async fn insights(&self, request: Request<InsightsRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(self.views.insights(user_id).await)
    }

    async fn patterns(&self, request: Request<PatternsRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        view(
            self.views
                .patterns(parse_user_id(&request.user_id)?, request.days)
                .await,
        )
    }

    async fn peak_hours(&self, request: Request<PeakHoursRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(
            self.views
                .peak_hours(user_id, request.date.as_deref())
                .await,
        )
    }

    async fn comparison(&self, request: Request<ComparisonRequest>) -> Answer<ViewResponse> {
        view(
            self.views
                .comparison(parse_user_id(&request.into_inner().user_id)?)
                .await,
        )
    }

    async fn wellbeing_score(
        &self,
        request: Request<WellbeingScoreRequest>,
    ) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(
            self.views
                .wellbeing_score(user_id, request.date.as_deref())
                .await,
        )
    }

    async fn create_goal(&self, request: Request<CreateGoalRequest>) -> Answer<GoalResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let goal_json = self
            .goals
            .create(
                user_id,
                &request.goal_type,
                request.target_value,
                request.app_name,
                request.deadline.as_deref(),
            )
            .await?;
        Ok(Response::new(GoalResponse {
            goal_json: goal_json.into(),
        }))
    }

    async fn list_goals(&self, request: Request<ListGoalsRequest>) -> Answer<ViewResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        view(self.goals.list(user_id, request.status.as_deref()).await)
    }

    async fn update_goal(&self, request: Request<UpdateGoalRequest>) -> Answer<GoalResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let changes = GoalChanges {
            target_value: request.target_value,
            app_name: request.app_name,
            deadline: request.deadline,
            current_value: request.current_value,
        };
        let goal_json = self
            .goals
            .update(user_id, &request.goal_id, changes)
            .await?;
        Ok(Response::new(GoalResponse {
            goal_json: goal_json.into(),
        }))
    }

    async fn delete_goal(&self, request: Request<DeleteGoalRequest>) -> Answer<DeleteGoalResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        self.goals.delete(user_id, &request.goal_id).await?;
        Ok(Response::new(DeleteGoalResponse {}))
    }

    async fn report_privacy_state(
        &self,
        request: Request<ReportPrivacyStateRequest>,
    ) -> Answer<ReportPrivacyStateResponse> {
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let state = request
            .state
            .ok_or_else(|| ServiceError::invalid("state", "the privacy state is required"))?;
        let json = self.privacy.report(user_id, state).await?;
        Ok(Response::new(ReportPrivacyStateResponse {
            json: json.into(),
        }))
    }

    async fn privacy_score(&self, request: Request<PrivacyScoreRequest>) -> Answer<ViewResponse> {
        view(
            self.views
                .privacy_score(parse_user_id(&request.into_inner().user_id)?)
                .await,
        )
    }

    async fn privacy_history(
        &self,
        request: Request<PrivacyHistoryRequest>,
    ) -> Answer<ViewResponse> {
        let request = request.into_inner();
        view(
            self.views
                .privacy_history(parse_user_id(&request.user_id)?, request.limit)
                .await,
        )
    }

    async fn privacy_trend(&self, request: Request<PrivacyTrendRequest>) -> Answer<ViewResponse> {
        view(
            self.views
                .privacy_trend(parse_user_id(&request.into_inner().user_id)?)
                .await,
        )
    }

    async fn cache_stats(&self, request: Request<CacheStatsRequest>) -> Answer<ViewResponse> {
        view(
            self.views
                .cache_stats(parse_user_id(&request.into_inner().user_id)?)
                .await,
        )
    }

    async fn pool_stats(&self, _request: Request<PoolStatsRequest>) -> Answer<PoolStatsResponse> {
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

impl AnalyticsService {
    async fn record(&self, user_id: &str, event: Option<Kind>) -> Answer<RecordEventResponse> {
        let user_id = parse_user_id(user_id)?;
        let event = event.ok_or_else(|| ServiceError::invalid("event", "the event is required"))?;
        let Recorded {
            record_json,
            created,
        } = self.ingest.record(user_id, event).await?;
        Ok(Response::new(RecordEventResponse {
            record_json: record_json.into(),
            created,
        }))
    }
}

fn view(view: Result<View, ServiceError>) -> Answer<ViewResponse> {
    let view = view?;
    Ok(Response::new(ViewResponse {
        json: view.json,
        cached: view.cached,
        etag: view.etag,
        fresh_until_unix_ms: view.fresh_until_unix_ms,
    }))
}

fn parse_user_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw).map_err(|_| ServiceError::invalid("user_id", "user_id must be a UUID"))
}

fn parse_session_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw).map_err(|_| ServiceError::not_found("no such session"))
}

/// The fields every answer carrying a refresh token has (user, token, expiry, session, issue time).
fn token_fields(
    token: IssuedRefreshToken,
) -> (String, String, Option<Timestamp>, String, Option<Timestamp>) {
    (
        token.user_id.to_string(),
        token.token,
        Some(timestamp(token.expires_at)),
        token.session_id.to_string(),
        Some(timestamp(token.issued_at)),
    )
}

fn ended_message(ended: Vec<wellbeing_store::sessions::Ended>) -> SessionsEndedResponse {
    SessionsEndedResponse {
        ended: ended
            .into_iter()
            .map(|ended| EndedSession {
                session_id: ended.id.to_string(),
                revoked_at: Some(timestamp(ended.revoked_at)),
            })
            .collect(),
    }
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

pub fn timestamp(instant: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: instant.timestamp(),
        nanos: i32::try_from(instant.timestamp_subsec_nanos()).unwrap_or(0),
    }
}
