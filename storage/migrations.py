"""Schema migrations, applied in order; PRAGMA user_version is the number applied. Never edit a
released migration: add the next one."""

MIGRATIONS: list[str] = [
    # 1: organisation, groups, incidents, timers, outbox, processed updates
    """
    CREATE TABLE groups (
        chat_id      INTEGER PRIMARY KEY,
        title        TEXT NOT NULL DEFAULT '',
        profile      TEXT NOT NULL,
        is_forum     INTEGER NOT NULL DEFAULT 0,
        bound_by     INTEGER,
        bound_at     TEXT NOT NULL
    );
    CREATE TABLE departments (
        id           INTEGER PRIMARY KEY,
        code         TEXT NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        territorial  INTEGER NOT NULL DEFAULT 0,
        archived     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE people (
        user_id      INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        username     TEXT
    );
    CREATE TABLE memberships (
        user_id       INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        role          TEXT NOT NULL,
        department_id INTEGER REFERENCES departments(id),
        PRIMARY KEY (user_id, role, department_id)
    );
    CREATE UNIQUE INDEX memberships_no_dup ON memberships(user_id, role, IFNULL(department_id, 0));
    CREATE TABLE incidents (
        id                 INTEGER PRIMARY KEY,
        chat_id            INTEGER NOT NULL REFERENCES groups(chat_id),
        profile            TEXT NOT NULL,
        source             TEXT NOT NULL,
        track              TEXT NOT NULL,
        state              TEXT NOT NULL,
        departments        TEXT NOT NULL DEFAULT '[]',
        step               INTEGER NOT NULL DEFAULT 0,
        outcome            TEXT,
        outcome_reason     TEXT,
        intermediate_given INTEGER NOT NULL DEFAULT 0,
        resume_state       TEXT,
        parts_done         TEXT NOT NULL DEFAULT '[]',
        event_times        TEXT NOT NULL DEFAULT '{}',
        significant        INTEGER NOT NULL DEFAULT 0,
        text               TEXT NOT NULL DEFAULT '',
        link               TEXT,
        origin             TEXT NOT NULL DEFAULT '{}',
        draft              TEXT,
        final_text         TEXT,
        published_link     TEXT,
        thread_id          INTEGER,
        card_message_id    INTEGER,
        created_by         INTEGER,
        detected_at        TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        closed_at          TEXT
    );
    CREATE INDEX incidents_open ON incidents(chat_id, state);
    CREATE TABLE timers (
        id             INTEGER PRIMARY KEY,
        incident_id    INTEGER NOT NULL REFERENCES incidents(id),
        timer_id       TEXT NOT NULL,
        department_id  INTEGER,
        clause         TEXT NOT NULL,
        role           TEXT NOT NULL,
        started_at     TEXT NOT NULL,
        due_at         TEXT NOT NULL,
        paused_at      TEXT,
        remaining      TEXT,
        stopped_at     TEXT,
        stop_event     TEXT
    );
    CREATE INDEX timers_running ON timers(incident_id) WHERE stopped_at IS NULL;
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY,
        chat_id      INTEGER NOT NULL,
        method       TEXT NOT NULL,
        payload      TEXT NOT NULL,
        purpose      TEXT,
        not_before   TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        created_at   TEXT NOT NULL,
        sent_at      TEXT,
        failed_at    TEXT,
        result       TEXT
    );
    CREATE INDEX outbox_pending ON outbox(chat_id, id) WHERE sent_at IS NULL AND failed_at IS NULL;
    CREATE TABLE processed_updates (
        update_id    INTEGER PRIMARY KEY,
        processed_at TEXT NOT NULL
    );
    CREATE TABLE intake (
        user_id      INTEGER PRIMARY KEY,
        data         TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    )
    """,
    # 2: replies the bot waits for; messages of a thread in a group without topics
    """
    CREATE TABLE awaited (
        user_id     INTEGER NOT NULL,
        chat_id     INTEGER NOT NULL,
        data        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (user_id, chat_id)
    );
    CREATE TABLE thread_messages (
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER NOT NULL,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        PRIMARY KEY (chat_id, message_id)
    )
    """,
    # 3: the event log (reports), reminder bookkeeping on timers, digests sent
    """
    CREATE TABLE incident_events (
        id            INTEGER PRIMARY KEY,
        incident_id   INTEGER NOT NULL REFERENCES incidents(id),
        event         TEXT NOT NULL,
        at            TEXT NOT NULL,
        user_id       INTEGER,
        department_id INTEGER
    );
    CREATE INDEX incident_events_by_incident ON incident_events(incident_id);
    ALTER TABLE timers ADD COLUMN next_notice_at TEXT;
    ALTER TABLE timers ADD COLUMN notices_sent INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX timers_next_notice ON timers(next_notice_at) WHERE stopped_at IS NULL;
    CREATE TABLE digests (
        chat_id  INTEGER NOT NULL,
        day      TEXT NOT NULL,
        sent_at  TEXT NOT NULL,
        PRIMARY KEY (chat_id, day)
    )
    """,
    # 4: an organisation per group (departments and roles belong to a bound group; an admin role without a
    #    group is bot-wide), invite links, absences with a substitute, the user's language.
    #    Rows that predate groups (an org imported before any /bind) keep chat_id NULL: the first /bind adopts them.
    """
    CREATE TABLE departments_v4 (
        id           INTEGER PRIMARY KEY,
        chat_id      INTEGER,
        code         TEXT NOT NULL,
        name         TEXT NOT NULL,
        territorial  INTEGER NOT NULL DEFAULT 0,
        archived     INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO departments_v4 (id, chat_id, code, name, territorial, archived)
        SELECT id, (SELECT MIN(chat_id) FROM groups), code, name, territorial, archived FROM departments;
    DROP TABLE departments;
    ALTER TABLE departments_v4 RENAME TO departments;
    CREATE UNIQUE INDEX departments_code ON departments(IFNULL(chat_id, 0), code);
    CREATE TABLE memberships_v4 (
        user_id       INTEGER NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        chat_id       INTEGER,
        role          TEXT NOT NULL,
        department_id INTEGER REFERENCES departments(id)
    );
    INSERT INTO memberships_v4 (user_id, chat_id, role, department_id)
        SELECT user_id, CASE WHEN role = 'admin' THEN NULL ELSE (SELECT MIN(chat_id) FROM groups) END,
               role, department_id FROM memberships;
    DROP TABLE memberships;
    ALTER TABLE memberships_v4 RENAME TO memberships;
    CREATE UNIQUE INDEX memberships_no_dup
        ON memberships(user_id, IFNULL(chat_id, 0), role, IFNULL(department_id, 0));
    CREATE INDEX memberships_by_chat ON memberships(chat_id, role);
    CREATE TABLE invites (
        token          TEXT PRIMARY KEY,
        chat_id        INTEGER,
        role           TEXT NOT NULL,
        department_id  INTEGER REFERENCES departments(id),
        created_by     INTEGER,
        created_at     TEXT NOT NULL,
        expires_at     TEXT NOT NULL,
        used_by        INTEGER,
        used_at        TEXT,
        revoked_at     TEXT
    );
    CREATE TABLE absences (
        user_id        INTEGER NOT NULL,
        chat_id        INTEGER NOT NULL,
        substitute_id  INTEGER NOT NULL,
        until          TEXT NOT NULL,
        set_by         INTEGER,
        created_at     TEXT NOT NULL,
        PRIMARY KEY (user_id, chat_id)
    );
    ALTER TABLE people ADD COLUMN language TEXT
    """,
    # 5: who of a group's people is in its Telegram chat, and the invite link the bot made for each one not yet there
    """
    CREATE TABLE group_members (
        chat_id      INTEGER NOT NULL,
        user_id      INTEGER NOT NULL,
        present      INTEGER NOT NULL DEFAULT 0,
        invite_link  TEXT,
        link_made_at TEXT,
        invited_by   INTEGER,
        updated_at   TEXT NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    CREATE UNIQUE INDEX group_members_by_link ON group_members(invite_link) WHERE invite_link IS NOT NULL
    """,
    # 6: steps from the profile — co-executors' parts accepted, repeated messages linked to the earlier one
    """
    ALTER TABLE incidents ADD COLUMN parts_accepted TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE incidents ADD COLUMN repeat_of INTEGER REFERENCES incidents(id);
    CREATE INDEX incidents_by_link ON incidents(chat_id, link, created_at);
    ALTER TABLE thread_messages ADD COLUMN kind TEXT;
    CREATE INDEX thread_messages_by_kind ON thread_messages(incident_id, kind, message_id)
    """,
    # 7: the inbox: every update is stored before its offset is confirmed to Telegram and handled from there
    #    (it replaces processed_updates, kept as a view: the update id stays the key that keeps an update from
    #    being handled twice); the outbox records a call in flight before making it; the ids of messages the
    #    handlers post into groups themselves (not through the outbox); a table the storage probe writes into.
    """
    CREATE TABLE inbox (
        update_id    INTEGER PRIMARY KEY,
        lane         INTEGER NOT NULL DEFAULT 0,
        payload      TEXT NOT NULL,
        received_at  TEXT NOT NULL,
        handled_at   TEXT,
        attempts     INTEGER NOT NULL DEFAULT 0,
        not_before   TEXT,
        last_error   TEXT
    );
    INSERT INTO inbox (update_id, payload, received_at, handled_at)
        SELECT update_id, '{}', processed_at, processed_at FROM processed_updates;
    DROP TABLE processed_updates;
    CREATE VIEW processed_updates AS
        SELECT update_id, handled_at AS processed_at FROM inbox WHERE handled_at IS NOT NULL;
    CREATE INDEX inbox_waiting ON inbox(lane, update_id) WHERE handled_at IS NULL;
    ALTER TABLE outbox ADD COLUMN in_flight_at TEXT;
    ALTER TABLE outbox ADD COLUMN maybe_sent_at TEXT;
    ALTER TABLE outbox ADD COLUMN known_before INTEGER;
    CREATE TABLE direct_messages (
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        sent_at      TEXT NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE TABLE storage_probe (data BLOB)
    """,
    # 8: data at scale. /status and the digest read one page in SQL: what they sort, count and filter an open
    #    incident by is kept beside it (bot.workflow.notices.status_keys, written by storage.incidents.save in
    #    the same transaction, with the fingerprint of the profile they were computed under, status_of;
    #    storage.incidents.refresh_status recomputes them at start where the profile changed, and all of them
    #    the first time, in batches). An index for every lookup on a hot path, so none reads a whole table as
    #    incidents pile up: a message in a topic (find_by_thread), a reply to a card (find_by_message), the
    #    digest (created, answered and closed in a day), the report (a month's incidents, their timers), the
    #    outbox by purpose (a card already queued, a notice already sent) and per chat (the duplicate check's
    #    latest rows), the inbox per lane, the hourly passes (what retention may erase, calls not yet pruned).
    """
    ALTER TABLE incidents ADD COLUMN status_due TEXT;
    ALTER TABLE incidents ADD COLUMN status_late TEXT;
    ALTER TABLE incidents ADD COLUMN status_waiting TEXT;
    ALTER TABLE incidents ADD COLUMN status_of TEXT;
    CREATE INDEX incidents_status ON incidents(chat_id, status_due IS NULL, status_due, id, status_late)
        WHERE state != 'closed';
    CREATE INDEX incidents_waiting ON incidents(chat_id, status_waiting IS NULL, status_waiting, id)
        WHERE state != 'closed';
    CREATE INDEX incidents_status_of ON incidents(profile, status_of) WHERE state != 'closed';
    CREATE TABLE status_departments (
        department_id INTEGER NOT NULL,
        incident_id   INTEGER NOT NULL,
        listed        INTEGER NOT NULL,
        his_due       TEXT,
        due           TEXT,
        late          TEXT,
        PRIMARY KEY (department_id, incident_id)
    ) WITHOUT ROWID;
    CREATE INDEX status_departments_by_incident ON status_departments(incident_id);
    CREATE INDEX status_departments_order ON status_departments(department_id, due IS NULL, due, incident_id, late)
        WHERE listed = 1;
    CREATE INDEX incidents_by_thread ON incidents(chat_id, thread_id) WHERE thread_id IS NOT NULL;
    CREATE INDEX incidents_by_card ON incidents(chat_id, card_message_id) WHERE card_message_id IS NOT NULL;
    CREATE INDEX incidents_created ON incidents(chat_id, created_at);
    CREATE INDEX incidents_created_by_profile ON incidents(profile, created_at);
    CREATE INDEX incidents_closed ON incidents(chat_id, closed_at) WHERE closed_at IS NOT NULL;
    CREATE INDEX incidents_to_erase ON incidents(closed_at)
        WHERE state = 'closed' AND closed_at IS NOT NULL AND (text != '' OR link IS NOT NULL OR origin != '{}'
              OR draft IS NOT NULL OR final_text IS NOT NULL OR published_link IS NOT NULL);
    CREATE INDEX timers_by_incident ON timers(incident_id);
    CREATE INDEX timers_answered ON timers(stopped_at) WHERE stop_event = 'draft_submitted';
    CREATE INDEX outbox_by_purpose ON outbox(purpose) WHERE purpose IS NOT NULL;
    CREATE INDEX outbox_sent ON outbox(chat_id, id) WHERE sent_at IS NOT NULL;
    CREATE INDEX outbox_done ON outbox(created_at) WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;
    CREATE INDEX outbox_unpruned ON outbox(sent_at) WHERE sent_at IS NOT NULL AND payload != '{}';
    CREATE INDEX inbox_by_lane ON inbox(lane, update_id);
    CREATE INDEX inbox_unpruned ON inbox(handled_at) WHERE handled_at IS NOT NULL AND payload != '{}';
    CREATE INDEX direct_messages_sent ON direct_messages(sent_at);
    CREATE INDEX intake_updated ON intake(updated_at);
    CREATE INDEX awaited_created ON awaited(created_at)
    """,
    # 9: the outbox's priorities (what a person waits for goes first: storage.outbox.priority_of), and notices
    #    merged into one message (a merged row waits for the row it went out with and shares its outcome)
    """
    ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE outbox ADD COLUMN merged_into INTEGER;
    UPDATE outbox SET priority = CASE
        WHEN purpose LIKE 'review:%' OR purpose LIKE 'panel%' THEN 0
        WHEN purpose LIKE 'edit:%' OR purpose LIKE 'notice:%' OR purpose LIKE 'digest:%' THEN 2
        WHEN purpose IS NULL AND chat_id > 0 THEN 0
        ELSE 1 END
    WHERE sent_at IS NULL AND failed_at IS NULL;
    CREATE INDEX outbox_waiting ON outbox(id) WHERE sent_at IS NULL AND failed_at IS NULL AND merged_into IS NULL
    """,
    # 10: a waiting call's revision, one up at each change of its payload (a card's edit replaced, notices merged):
    #     the sender reads the waiting calls without their payloads and decodes again only a changed one
    """
    ALTER TABLE outbox ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER outbox_rev AFTER UPDATE OF payload ON outbox WHEN NEW.sent_at IS NULL AND NEW.failed_at IS NULL
    BEGIN UPDATE outbox SET rev = OLD.rev + 1 WHERE id = NEW.id; END
    """,
    # 11: the rows merged into a call, found by an index: marking a call delivered or given up ("WHERE id = ? OR
    #     merged_into = ?") read the whole outbox at every call
    """
    CREATE INDEX outbox_merged ON outbox(merged_into) WHERE merged_into IS NOT NULL
    """,
    # 12: the message a delivered call made and the one an update is about, as numbers kept at write time: the
    #     highest message number known in a chat (storage.outbox.last_message_id, at each post's first try) is an
    #     index's last entry instead of the JSON of the chat's latest answers and updates read again each time
    """
    ALTER TABLE outbox ADD COLUMN message_id INTEGER;
    ALTER TABLE inbox ADD COLUMN message_id INTEGER;
    UPDATE outbox SET message_id = COALESCE(json_extract(result, '$.message_id'),
                                            json_extract(result, '$.message_thread_id'),
                                            json_extract(result, '$[#-1].message_id'))
     WHERE sent_at IS NOT NULL AND json_valid(result) AND json_type(result) IN ('object', 'array');
    UPDATE inbox SET message_id = COALESCE(json_extract(payload, '$.message.message_id'),
                                           json_extract(payload, '$.edited_message.message_id'),
                                           json_extract(payload, '$.callback_query.message.message_id'))
     WHERE json_valid(payload);
    CREATE INDEX outbox_message ON outbox(chat_id, message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX inbox_message ON inbox(lane, message_id) WHERE message_id IS NOT NULL
    """,
]
