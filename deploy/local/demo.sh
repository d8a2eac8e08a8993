#!/usr/bin/env bash
# Creates a demo account with two weeks of realistic phone usage, sent through the API of a
# running stack (start ./deploy/local/run.sh in another terminal first), and prints how to sign
# in and see the dashboard. Every event has an event_id, so the data is what a phone would send.
#
# Knobs: GATEWAY (http://127.0.0.1:8080), DEMO_TIMEZONE (Europe/London), DEMO_DAYS (14).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/services.sh
. deploy/local/services.sh

GATEWAY="${GATEWAY:-http://127.0.0.1:8080}"
ZONE="${DEMO_TIMEZONE:-Europe/London}"
DAYS="${DEMO_DAYS:-14}"
[[ "$DAYS" =~ ^[1-9][0-9]?$ ]] || die "DEMO_DAYS must be 1 to 99"
curl -fsS "$GATEWAY/livez" >/dev/null 2>&1 || die "no gateway answers at $GATEWAY: start ./deploy/local/run.sh first"
command -v python3 >/dev/null || apt_install python3

SUFFIX="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
EMAIL="demo-$SUFFIX@example.com"
PASSWORD="demo-password-$SUFFIX"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log "registering $EMAIL ($ZONE)"
curl -fsS -X POST "$GATEWAY/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"username\":\"Demo\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"timezone\":\"$ZONE\"}" >/dev/null
TOKEN="$(curl -fsS -X POST "$GATEWAY/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

log "generating $DAYS days of usage"
python3 - "$ZONE" "$DAYS" "$WORK" <<'PY'
import json, random, sys, uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

zone, days, out = ZoneInfo(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random()
now = datetime.now(timezone.utc)
apps = [("Chat", "social", 30), ("Mail", "productivity", 14), ("Browser", "productivity", 16),
        ("Video", "entertainment", 22), ("News", "news", 10), ("Maps", "navigation", 5),
        ("Music", "entertainment", 12), ("Reader", "education", 9), ("Camera", "photo", 3),
        ("Game", "games", 8)]
weights = [weight for _, _, weight in apps]
events = []

def at(local):
    return local.isoformat(timespec="seconds")

def add(kind, **fields):
    events.append({"type": kind, "event_id": str(uuid.uuid4()), **fields})

today = now.astimezone(zone).date()
for back in range(days - 1, -1, -1):
    day = today - timedelta(days=back)
    weekend = day.weekday() >= 5
    start = datetime(day.year, day.month, day.day, 7 if not weekend else 9, rng.randint(0, 40), tzinfo=zone)
    end = datetime(day.year, day.month, day.day, 23, rng.randint(0, 30), tzinfo=zone)
    moment = start
    while moment < end:
        # A phone unlocked for a few minutes: a session with screen time in one or two apps.
        length = rng.uniform(2, 25 if weekend else 15)
        finish = moment + timedelta(minutes=length)
        if finish.astimezone(timezone.utc) > now:
            break
        add("session", start_time=at(moment), end_time=at(finish), device_type="mobile")
        used, cursor = 0.0, moment
        for _ in range(rng.choice([1, 1, 2])):
            name, category, _ = rng.choices(apps, weights)[0]
            minutes = round(max(0.5, (length - used) * rng.uniform(0.4, 0.9)), 1)
            add("screen-time", app_name=name, duration_minutes=minutes, category=category, timestamp=at(cursor))
            cursor += timedelta(minutes=minutes)
            used += minutes
        moment = finish + timedelta(minutes=rng.uniform(10, 55))
    for _ in range(rng.randint(1, 3) if not weekend else rng.randint(0, 1)):
        begin = datetime(day.year, day.month, day.day, rng.choice([9, 10, 14, 15, 16]), rng.randint(0, 59), tzinfo=zone)
        finish = begin + timedelta(minutes=rng.choice([25, 45, 50, 90]))
        if finish.astimezone(timezone.utc) <= now:
            add("focus-session", start_time=at(begin), end_time=at(finish),
                quality_score=rng.randint(55, 95), task_name=rng.choice(["Writing", "Study", "Planning", None]))
    for _ in range(rng.randint(2, 6)):
        when = datetime(day.year, day.month, day.day, rng.randint(8, 21), rng.randint(0, 59), tzinfo=zone)
        if when.astimezone(timezone.utc) < now - timedelta(minutes=30):
            add("break", duration_minutes=rng.choice([5, 10, 15, 20]), break_type=rng.choice(["short", "walk", "stretch"]), timestamp=at(when))
    for _ in range(rng.randint(40, 110)):
        when = datetime(day.year, day.month, day.day, rng.randint(7, 22), rng.randint(0, 59), tzinfo=zone)
        if when.astimezone(timezone.utc) <= now:
            name = rng.choices(apps, weights)[0][0]
            add("notification", app_name=name, priority=rng.randint(0, 100), was_interacted=rng.random() < 0.3, timestamp=at(when))
    for _ in range(rng.randint(3, 14)):
        when = datetime(day.year, day.month, day.day, rng.randint(8, 22), rng.randint(0, 59), tzinfo=zone)
        if when.astimezone(timezone.utc) <= now:
            add("distraction", source=rng.choice(["notification", "social_media", "email", "phone_call"]),
                severity=rng.randint(1, 5), duration_seconds=rng.randint(10, 600), timestamp=at(when))

for index in range(0, len(events), 1000):
    with open(f"{out}/batch-{index // 1000:03d}.json", "w") as file:
        json.dump({"events": events[index:index + 1000]}, file)
print(len(events), file=sys.stderr)
PY

stored=0
for batch in "$WORK"/batch-*.json; do
  answer="$(curl -fsS -X POST "$GATEWAY/api/v1/analytics/track/batch" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' --data-binary "@$batch")" || die "a batch was refused: see the gateway's log"
  stored=$((stored + $(printf '%s' "$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accepted"])')))
done
log "stored $stored events"
curl -fsS -X PUT "$GATEWAY/api/v1/privacy/state" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d '{"vpn_connected":true,"kill_switch":true,"leak_detected":false,
  "caller_masking":true,"calls_total":42,"calls_blocked":9,"blocklist_size":120,"location_mode":"approximate",
  "network_threats":2,"critical_threats":0,"monitoring_enabled":true}' >/dev/null
log "reported the phone's privacy settings"

cat <<MSG

A demo account with $DAYS days of usage is ready at $GATEWAY:
  email $EMAIL, password $PASSWORD

Sign in and look:
  TOKEN=\$(curl -s -X POST $GATEWAY/api/v1/auth/login -H 'content-type: application/json' \\
    -d '{"email":"$EMAIL","password":"$PASSWORD"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s $GATEWAY/api/v1/analytics/dashboard -H "authorization: Bearer \$TOKEN"
  curl -s $GATEWAY/api/v1/analytics/summary/weekly -H "authorization: Bearer \$TOKEN"
MSG
