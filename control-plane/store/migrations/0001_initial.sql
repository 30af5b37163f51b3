-- 0001: the initial schema of strait-control (docs/control-plane.md §5.2). Released migrations are never edited:
-- a change is a new NNNN_*.sql file. Times are unix seconds; bytes are BLOBs; states are TEXT checked here, so a
-- bug in a handler cannot store a state no reader knows.
--
-- Every tenant table's primary key starts with `tenant`: no lookup by id alone exists, and every statement on such
-- a table binds `tenant = ?` (sqlite_statements.cc; sqlite_store_test asserts it). Tables whose rows may belong to
-- no tenant (api_keys, activations: the operator's and relays') hold `tenant` NULL for those; credentials and denials
-- hold '' for relays, so their (tenant, role, subject) index covers relays too.

CREATE TABLE meta (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tenants (
  id TEXT PRIMARY KEY NOT NULL,
  display_name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'suspended')),
  signing_key_sealed BLOB NOT NULL,
  signing_public BLOB NOT NULL,
  tenant_cert BLOB NOT NULL,
  tenant_cert_not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE licences (
  tenant TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  seats INTEGER NOT NULL CHECK (seats >= 0),
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'read_only')),
  name TEXT NOT NULL,
  secret_hash BLOB NOT NULL,
  created_by TEXT NOT NULL,
  last_used_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((tenant IS NULL) = (role = 'operator'))
) WITHOUT ROWID;
CREATE INDEX api_keys_tenant ON api_keys (tenant, id);

CREATE TABLE users (
  tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  email TEXT NOT NULL,
  display_name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id),
  CONSTRAINT users_email UNIQUE (tenant, email)
) WITHOUT ROWID;

CREATE TABLE groups (
  tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id),
  CONSTRAINT groups_name UNIQUE (tenant, name)
) WITHOUT ROWID;

CREATE TABLE group_members (
  tenant TEXT NOT NULL,
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, group_id, user_id),
  FOREIGN KEY (tenant, group_id) REFERENCES groups (tenant, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (tenant, user_id);

CREATE TABLE devices (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  os TEXT NOT NULL CHECK (os IN ('ios', 'macos', 'android', 'windows10', 'blackberry10', 'linux')),
  os_version TEXT NOT NULL,
  model TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'locked', 'revoked')),
  signing_public BLOB NOT NULL,
  noise_public BLOB NOT NULL,
  push_service TEXT NOT NULL CHECK (push_service IN ('apns', 'fcm', 'wns', 'none')),
  push_token TEXT,
  push_updated_at INTEGER,
  activation_id TEXT NOT NULL,
  activated_at INTEGER NOT NULL,
  last_renewed_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id),
  FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX devices_user ON devices (tenant, user_id);
CREATE INDEX devices_state ON devices (tenant, state);

CREATE TABLE connectors (
  tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'revoked')),
  signing_public BLOB,
  noise_public BLOB,
  enrolled_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;

CREATE TABLE relays (
  id TEXT PRIMARY KEY NOT NULL,
  display_name TEXT NOT NULL,
  device_endpoint TEXT NOT NULL,
  connector_endpoint TEXT NOT NULL,
  tls_names TEXT NOT NULL,
  tls_ips TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'revoked')),
  signing_public BLOB,
  tls_spki BLOB,
  tls_cert_not_after INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE credentials (
  serial INTEGER PRIMARY KEY NOT NULL CHECK (serial > 0),
  role TEXT NOT NULL CHECK (role IN ('device', 'connector', 'relay')),
  tenant TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL
);
CREATE INDEX credentials_subject ON credentials (tenant, role, subject, serial);

CREATE TABLE activations (
  id TEXT PRIMARY KEY NOT NULL,
  tenant TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('device', 'connector', 'relay')),
  target TEXT NOT NULL,
  os TEXT,
  mac_key_sealed BLOB NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'used', 'expired', 'cancelled', 'burned')),
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  subject TEXT,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((tenant IS NULL) = (kind = 'relay'))
) WITHOUT ROWID;
CREATE INDEX activations_tenant ON activations (tenant, state, expires_at);

CREATE TABLE policies (
  tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  is_default INTEGER NOT NULL CHECK (is_default IN (0, 1)),
  doc_json TEXT NOT NULL,
  toml TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id),
  CONSTRAINT policies_name UNIQUE (tenant, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX policies_default ON policies (tenant) WHERE is_default;

CREATE TABLE policy_assignments (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  policy_id TEXT NOT NULL,
  target_kind TEXT NOT NULL CHECK (target_kind IN ('user', 'group')),
  target_id TEXT NOT NULL,
  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id),
  CONSTRAINT policy_assignments_target UNIQUE (tenant, target_kind, target_id, policy_id),
  FOREIGN KEY (tenant, policy_id) REFERENCES policies (tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX policy_assignments_policy ON policy_assignments (tenant, policy_id);

CREATE TABLE denials (
  tenant TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('device', 'connector', 'relay')),
  subject TEXT NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('revoked', 'locked', 'deleted')),
  until INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, role, subject)
) WITHOUT ROWID;
CREATE INDEX denials_until ON denials (until);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  tenant TEXT,
  type TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  tenant TEXT,
  actor_kind TEXT NOT NULL
      CHECK (actor_kind IN ('api_key', 'device', 'connector', 'relay', 'activation', 'system')),
  actor_id TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  detail TEXT NOT NULL CHECK (length(detail) <= 4096)
);
CREATE INDEX audit_tenant ON audit (tenant, id);
CREATE INDEX audit_at ON audit (at);

CREATE TABLE idempotency (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint BLOB NOT NULL,
  status INTEGER NOT NULL,
  response_sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);

-- The notification outbox of §9: created empty; the dispatcher (a later issue) claims rows by state and time.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
