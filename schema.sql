-- The whole leakwatch schema, as a new database gets it.
--
-- A new database has this file applied in one transaction and PRAGMA
-- user_version set to the newest migration. An older database is upgraded
-- step by step by the migrations in src/store/migrate.rs, which must leave it
-- equal to what this file creates. Timestamps are RFC 3339 text in UTC.

-- One row per source that has been crawled: the state that outlives a run,
-- its health as admins were last told it included (src/notify/health.rs).
-- What each run saw is in `fetch`; this changes only when the state does,
-- so a run over unchanged pages writes nothing here.
CREATE TABLE source (
    name             TEXT PRIMARY KEY,
    first_run_id     INTEGER,               -- the run that first listed it: its postings then are "first look"
    last_count       INTEGER NOT NULL DEFAULT 0,  -- postings on the last ok fetch
    failures_in_row  INTEGER NOT NULL DEFAULT 0,
    health           TEXT NOT NULL DEFAULT 'ok',  -- ok | broken | blocked | silent
    health_since     TEXT                   -- when it last changed; NULL: never reported
) STRICT;

-- Validators for conditional GET, one row per page URL of a source.
CREATE TABLE page (
    source         TEXT NOT NULL,
    url            TEXT NOT NULL,
    etag           TEXT,
    last_modified  TEXT,
    PRIMARY KEY (source, url)
) STRICT;

-- One row per `leakwatch run`. A row left 'running' was killed; the next run
-- marks it 'interrupted'.
CREATE TABLE run (
    id                  INTEGER PRIMARY KEY,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    status              TEXT NOT NULL DEFAULT 'running',  -- running | ok | failed | interrupted
    pid                 INTEGER NOT NULL,
    sources_ok          INTEGER NOT NULL DEFAULT 0,
    sources_failed      INTEGER NOT NULL DEFAULT 0,
    pages_fetched       INTEGER NOT NULL DEFAULT 0,
    pages_not_modified  INTEGER NOT NULL DEFAULT 0,
    postings_new        INTEGER NOT NULL DEFAULT 0,
    postings_changed    INTEGER NOT NULL DEFAULT 0,
    matches             INTEGER NOT NULL DEFAULT 0,
    emails_sent         INTEGER NOT NULL DEFAULT 0,
    emails_pending      INTEGER NOT NULL DEFAULT 0,
    emails_failed       INTEGER NOT NULL DEFAULT 0,
    error               TEXT,               -- why a 'failed' run stopped, when it died on a fatal error
    details_fetched     INTEGER NOT NULL DEFAULT 0,  -- [source.detail] pages read
    details_failed      INTEGER NOT NULL DEFAULT 0,  -- detail fetches that failed (retried up to a limit)
    details_waiting     INTEGER NOT NULL DEFAULT 0   -- detail pages left queued for later runs
) STRICT;

-- What happened to each source in each run: the `runs` view of failures.
CREATE TABLE fetch (
    run_id    INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
    source    TEXT NOT NULL,
    status    TEXT NOT NULL,                -- ok | empty | blocked | http-error | proxy-error
    pages     INTEGER NOT NULL DEFAULT 0,
    postings  INTEGER NOT NULL DEFAULT 0,
    tries     INTEGER NOT NULL DEFAULT 1,
    error     TEXT,
    at        TEXT NOT NULL,
    PRIMARY KEY (run_id, source)
) STRICT;

-- Every posting ever extracted. `key` is stable across runs: normalized title
-- and link, so whitespace or case changes on the page do not make it new.
CREATE TABLE posting (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,
    key            TEXT NOT NULL,
    victim         TEXT NOT NULL,           -- groups the parts of one leak (PART1..4) under one victim
    title          TEXT NOT NULL,
    link           TEXT,
    posted_at      TEXT,
    body           TEXT NOT NULL DEFAULT '',
    masked         INTEGER NOT NULL DEFAULT 0,  -- the site hides part of the name (Ac*****on)
    truncated      INTEGER NOT NULL DEFAULT 0,  -- the site cut the name short (Bombardier Recreational Pro...)
    first_seen_at  TEXT NOT NULL,
    changed_at     TEXT,
    first_run_id   INTEGER NOT NULL,
    first_look     INTEGER NOT NULL DEFAULT 0,  -- listed already when leakwatch first crawled the source
    actor          TEXT,                    -- the `group` that claims it (per item, or the site's)
    website        TEXT,                    -- the victim's website as the source states it
    vendor         TEXT,                    -- disclosures: the vendor and product it is about
    product        TEXT,
    item_id        TEXT,                    -- the source's own stable id of the item (a CVE, a guid)
    claim_group    TEXT,                    -- `actor` as compared across sources (lowercase, no spaces)
    claim_site     TEXT,                    -- `website` when it is a domain: one victim across sources
    UNIQUE (source, key)
) STRICT;

-- The watch list. List columns hold JSON arrays of strings.
CREATE TABLE watch_entry (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    aliases     TEXT NOT NULL DEFAULT '[]',
    domains     TEXT NOT NULL DEFAULT '[]',
    kind        TEXT NOT NULL CHECK (kind IN ('self', 'supplier', 'customer', 'other')),
    recipients  TEXT NOT NULL DEFAULT '[]',
    exclude     TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    backfilled  INTEGER NOT NULL DEFAULT 0  -- 0: match against stored postings at the next run
) STRICT;

-- A watch entry named in a posting. One per (posting, entry), ever — plus a
-- new revision when a changed posting says something meaningfully new
-- (src/notify/repeat.rs).
CREATE TABLE "match" (
    id            INTEGER PRIMARY KEY,
    posting_id    INTEGER NOT NULL REFERENCES posting(id),
    entry_id      INTEGER NOT NULL REFERENCES watch_entry(id) ON DELETE CASCADE,
    run_id        INTEGER NOT NULL,
    term          TEXT NOT NULL,            -- the watch term that matched, as the entry writes it
    reason        TEXT NOT NULL,            -- name | alias | domain | suffix | label | truncated | masked | about
    field         TEXT NOT NULL,            -- title | body | link
    snippet       TEXT NOT NULL,            -- posting text around the match, term in [[ ]]
    confidence    INTEGER NOT NULL DEFAULT 100,  -- 0-100: lower for body, partial (masked/truncated) and suffix-stripped matches
    retroactive   INTEGER NOT NULL DEFAULT 0,  -- found by matching a new entry against old postings
    changed       INTEGER NOT NULL DEFAULT 0,  -- found on a changed posting
    repeat_of     INTEGER,                  -- the earlier match of this entry for the same victim and source: no alert
    change_note   TEXT,                     -- what is new since that victim was first announced (src/notify/repeat.rs)
    revision      INTEGER NOT NULL DEFAULT 0,  -- 1, 2, … : the same posting changed meaningfully
    said_published INTEGER NOT NULL DEFAULT 0, -- announced, the posting said the data was out
    created_at    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'confirmed', 'dismissed')),  -- triage
    note          TEXT,                     -- the analyst's note with the last triage
    triaged_by    TEXT,
    triaged_at    TEXT,
    UNIQUE (posting_id, entry_id, revision)
) STRICT;

-- An email to send: one row per (match, recipient), written in the same
-- transaction as the match. A row joins a digest when sending starts.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    match_id    INTEGER NOT NULL REFERENCES "match"(id) ON DELETE CASCADE,
    recipient   TEXT NOT NULL,
    digest_id   INTEGER REFERENCES digest(id),
    created_at  TEXT NOT NULL,
    UNIQUE (match_id, recipient)
) STRICT;

-- One email to one recipient, grouping outbox rows. Its Message-ID is fixed
-- when it is assembled, so a resend after a crash carries the same ID.
CREATE TABLE digest (
    id          INTEGER PRIMARY KEY,
    recipient   TEXT NOT NULL,
    message_id  TEXT NOT NULL UNIQUE,
    state       TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
) STRICT;

CREATE INDEX outbox_unassigned ON outbox (recipient) WHERE digest_id IS NULL;
CREATE INDEX digest_pending ON digest (state) WHERE state = 'pending';
CREATE INDEX match_posting ON "match" (posting_id);
-- The repeat check reads an entry's earlier matches on every hit.
CREATE INDEX match_entry ON "match" (entry_id);

-- An email to one admin about one change of a source's health, written in
-- the same transaction as the change, with its Message-ID fixed then: the
-- same outbox guarantees as alerts.
CREATE TABLE admin_alert (
    id          INTEGER PRIMARY KEY,
    recipient   TEXT NOT NULL,
    source      TEXT NOT NULL,
    event       TEXT NOT NULL,              -- broken | blocked | silent | recovered
    previous    TEXT NOT NULL,              -- the state before
    detail      TEXT NOT NULL,              -- what leakwatch saw: last error, counts
    suggestion  TEXT,                       -- e.g. a replacement selector, shown when set
    message_id  TEXT NOT NULL UNIQUE,
    state       TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
) STRICT;

CREATE INDEX admin_alert_pending ON admin_alert (state) WHERE state = 'pending';

-- The post's own page of a posting ([source.detail]): queued in the
-- transaction that stored the new or changed posting, read by later fetches
-- oldest first, at most `max_per_run` per source per run. A row is never
-- lost: it stays 'queued' until read, or 'failed' after too many tries.
CREATE TABLE detail (
    posting_id  INTEGER PRIMARY KEY REFERENCES posting(id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    url         TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',  -- queued | read | failed
    tries       INTEGER NOT NULL DEFAULT 0,
    error       TEXT,                   -- the last failure
    queued_at   TEXT NOT NULL,
    read_at     TEXT,
    body        TEXT NOT NULL DEFAULT '',  -- the fields read on the page
    website     TEXT,
    posted_at   TEXT
) STRICT;

CREATE INDEX detail_due ON detail (source, queued_at, posting_id) WHERE state = 'queued';
CREATE INDEX match_status ON "match" (status, created_at);

-- Analyst workspace accounts (`leakwatch user add`). Passwords are Argon2id
-- PHC strings; viewers read, analysts change.
CREATE TABLE app_user (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('analyst', 'viewer')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;

-- A signed-in browser. `id` is the cookie's random value; `csrf` the token
-- every state-changing request of this session must carry.
CREATE TABLE session (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES app_user(name) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;

-- Every change made through the workspace or the triage/user commands: who,
-- when, what. Never pruned.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,                  -- a user name, or `cli:<login>` for shell commands
    action  TEXT NOT NULL,                  -- triage | exclude | watch-add | watch-edit | watch-rm | watch-import | user-add | user-rm | login
    target  TEXT NOT NULL,                  -- `match:12`, a watch entry's name, a user name
    detail  TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_target ON audit (target);

-- Full-text search over postings (the workspace's Postings page), kept in
-- step with `posting` by triggers.
CREATE VIRTUAL TABLE posting_fts USING fts5(title, body, content = 'posting', content_rowid = 'id');
CREATE TRIGGER posting_fts_insert AFTER INSERT ON posting BEGIN
    INSERT INTO posting_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER posting_fts_delete AFTER DELETE ON posting BEGIN
    INSERT INTO posting_fts (posting_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER posting_fts_update AFTER UPDATE OF title, body ON posting BEGIN
    INSERT INTO posting_fts (posting_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO posting_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;


-- Every address of a source (`url` and each of `mirrors`) and how it last
-- answered: the run tries the best first (src/run/mirrors.rs).
CREATE TABLE source_address (
    source        TEXT NOT NULL,
    url           TEXT NOT NULL,
    last_status   TEXT NOT NULL,            -- ok | empty | blocked | http-error | proxy-error | pending
    last_error    TEXT,
    last_tried    TEXT NOT NULL,
    last_success  TEXT,
    PRIMARY KEY (source, url)
) STRICT;

-- Selectors proposed for a pending source (no [source.html] yet), made from
-- its last page; `announced` once the admins were told.
CREATE TABLE source_proposal (
    source      TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    proposal    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    announced   INTEGER NOT NULL DEFAULT 0
) STRICT;
