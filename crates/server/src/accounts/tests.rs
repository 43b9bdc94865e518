//! The account service on its own: a real SQLite file, real argon2, a fake hub.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc;
use std::time::Duration;

use rustchat_proto::{ErrorKind, Nick, Password, ServerEvent};

use super::store::{AccountStore, AuditEntry, Role, StoreError};
use super::*;
use crate::clock::ManualClock;
use crate::delivery::Wire;
use crate::fanout::outbox::SlowPolicy;

/// What the fake hub was told.
#[derive(Debug)]
enum Told {
    Decided(Decision),
    Registered(Vec<String>),
}

struct Fake(Mutex<mpsc::Sender<Told>>);

impl Effects for Fake {
    fn decided(&self, conn: ConnId, decision: Decision, joining: bool) {
        assert!(!joining, "these jobs are for joined connections");
        assert_eq!(conn, ConnId(1), "decided for the job's connection");
        let _ = lock(&self.0).send(Told::Decided(decision));
    }
    fn klines(&self, _: Vec<crate::rules::Kline>) {}

    fn accounts(&self, accounts: Vec<super::store::AccountSummary>) {
        let keys = accounts.into_iter().map(|a| a.key).collect();
        let _ = lock(&self.0).send(Told::Registered(keys));
    }
}

struct Harness {
    accounts: Accounts,
    told: mpsc::Receiver<Told>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn harness(config: AccountsConfig) -> Harness {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("history.sqlite3");
    let store = AccountStore::open(&path).expect("the store opens");
    let clock = ManualClock::new();
    let accounts = Accounts::new(config, store, clock.clone());
    let (tx, told) = mpsc::channel();
    accounts
        .start(Arc::new(Fake(Mutex::new(tx))))
        .expect("workers start");
    Harness {
        accounts,
        told,
        clock,
        _dir: dir,
        path,
    }
}

fn nick(text: &str) -> Nick {
    Nick::parse(text).expect("a valid nick")
}

fn password(text: &str) -> Password {
    Password::parse(text).expect("a valid password")
}

const ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

impl Harness {
    /// Runs one request and returns the decision (waiting at most 10 s).
    fn run_from(&self, ip: IpAddr, request: Request) -> Decision {
        let ticket = Arc::new(Ticket::default());
        let outbox = Outbox::new(
            SlowPolicy::new(1 << 20, Duration::from_secs(2)),
            Wire::Line,
            None,
        );
        let job = Job {
            conn: ConnId(1),
            ip,
            request,
            ticket: ticket.clone(),
            outbox: outbox.clone(),
            joining: false,
        };
        self.accounts.submit(job).expect("room in the queue");
        loop {
            match self.told.recv_timeout(Duration::from_secs(10)) {
                Ok(Told::Decided(decision)) => {
                    // The ticket is done and the driver woken right after the decision.
                    for _ in 0..1000 {
                        if ticket.is_done() && outbox.has_news(false) {
                            return decision;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    panic!("the ticket was not marked done");
                }
                Ok(Told::Registered(_)) => {}
                Err(e) => panic!("no decision: {e}"),
            }
        }
    }

    fn run(&self, request: Request) -> Decision {
        self.run_from(ADDRESS, request)
    }

    fn register(&self, name: &str, secret: &str, invite: Option<&str>) -> Decision {
        self.run(Request::Register {
            nick: nick(name),
            password: password(secret),
            invite: invite.map(str::to_owned),
        })
    }

    fn login(&self, name: &str, secret: &str) -> Decision {
        self.run(Request::Login {
            account: nick(name),
            password: password(secret),
        })
    }
}

fn signed_in(account: Nick) -> Decision {
    Decision::SignIn(crate::hub::Signed {
        account,
        role: None,
    })
}

fn error_kind(decision: &Decision) -> Option<ErrorKind> {
    match decision {
        Decision::Reply(ServerEvent::Error { kind, .. }) => Some(*kind),
        _ => None,
    }
}

fn error_text(decision: &Decision) -> String {
    match decision {
        Decision::Reply(ServerEvent::Error { message, .. }) => message.clone(),
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn register_then_sign_in_with_the_right_password_only() {
    let h = harness(AccountsConfig::default());
    assert_eq!(
        h.register("Alice", "correct-horse", None),
        signed_in(nick("Alice"))
    );
    assert_eq!(
        error_kind(&h.register("alice", "another-pass", None)),
        Some(ErrorKind::AlreadyRegistered),
        "names are unique case-insensitively"
    );
    // Signed in under the name as registered, whatever case was typed.
    assert_eq!(h.login("ALICE", "correct-horse"), signed_in(nick("Alice")));
    let wrong = h.login("alice", "wrong-horse");
    assert_eq!(error_kind(&wrong), Some(ErrorKind::AuthFailed));
    let nobody = h.login("nobody", "wrong-horse");
    assert_eq!(
        error_text(&wrong),
        error_text(&nobody),
        "an unknown account reads like a wrong password"
    );
}

#[test]
fn passwd_needs_the_old_password_and_replaces_it() {
    let h = harness(AccountsConfig::default());
    h.register("bob", "first-secret", None);
    let refused = h.run(Request::Passwd {
        account: nick("bob"),
        old: password("not-the-one"),
        new: password("second-secret"),
    });
    assert_eq!(error_kind(&refused), Some(ErrorKind::AuthFailed));
    let changed = h.run(Request::Passwd {
        account: nick("bob"),
        old: password("first-secret"),
        new: password("second-secret"),
    });
    assert!(
        matches!(changed, Decision::Reply(ServerEvent::Info { .. })),
        "{changed:?}"
    );
    assert_eq!(
        error_kind(&h.login("bob", "first-secret")),
        Some(ErrorKind::AuthFailed)
    );
    assert!(matches!(
        h.login("bob", "second-secret"),
        Decision::SignIn { .. }
    ));
}

#[test]
fn brute_force_is_throttled_per_account_and_per_address_and_says_when() {
    let h = harness(AccountsConfig::default());
    h.register("carol", "the-real-one", None);
    for attempt in 1..=4 {
        let got = h.login("carol", &format!("guess-{attempt:04}"));
        assert_eq!(
            error_text(&got),
            "wrong account name or password",
            "attempt {attempt}"
        );
    }
    let fifth = h.login("carol", "guess-0005");
    assert_eq!(
        error_text(&fifth),
        "wrong account name or password; too many failures: try again in 1 min 0 s"
    );
    // Locked: even the right password is refused, without being checked, saying how long.
    let locked = h.login("carol", "the-real-one");
    assert_eq!(error_kind(&locked), Some(ErrorKind::Throttled));
    assert_eq!(
        error_text(&locked),
        "too many failed sign-ins for carol: try again in 1 min 0 s"
    );
    // Another address is refused for the account too; the attacker's address for any account.
    let elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let other = h.run_from(
        elsewhere,
        Request::Login {
            account: nick("carol"),
            password: password("the-real-one"),
        },
    );
    assert_eq!(error_kind(&other), Some(ErrorKind::Throttled));
    let any = h.login("dave", "whatever-pass");
    assert_eq!(
        error_text(&any),
        "too many failed sign-ins from your address: try again in 1 min 0 s"
    );
    // A minute later the owner signs in; the next wrong guess locks for longer.
    h.clock.advance(Duration::from_secs(60));
    assert!(matches!(
        h.run_from(
            elsewhere,
            Request::Login {
                account: nick("carol"),
                password: password("the-real-one"),
            }
        ),
        Decision::SignIn { .. }
    ));
    let again = h.login("dave", "whatever-pass");
    assert!(
        error_text(&again).ends_with("try again in 2 min 0 s"),
        "{}",
        error_text(&again)
    );
    let audit = AccountStore::open(&h.path)
        .and_then(|s| s.audit_log(100))
        .expect("the audit log reads");
    let failed = audit
        .iter()
        .filter(|e| e.action == "sign_in_failed")
        .count();
    assert_eq!(failed, 6, "each checked failure is audited: {audit:?}");
    assert!(audit.iter().all(|e| e.address.is_some()));
}

#[test]
fn registration_policies() {
    let closed = harness(AccountsConfig {
        registration: Registration::Closed,
        ..AccountsConfig::default()
    });
    let got = closed.register("erin", "a-fine-password", None);
    assert_eq!(error_kind(&got), Some(ErrorKind::RegistrationClosed));
    assert!(error_text(&got).contains("rustchat admin create-account"));

    let invite = harness(AccountsConfig {
        registration: Registration::Invite,
        ..AccountsConfig::default()
    });
    let got = invite.register("erin", "a-fine-password", None);
    assert!(error_text(&got).contains("/register <password> <invite-code>"));
    let mut store = AccountStore::open(&invite.path).expect("opens beside the server");
    store.add_invite("code-1", "operator", 0).expect("kept");
    let got = invite.register("erin", "a-fine-password", Some("code-2"));
    assert!(error_text(&got).contains("unknown or used"), "{got:?}");
    assert!(matches!(
        invite.register("erin", "a-fine-password", Some("code-1")),
        Decision::SignIn { .. }
    ));
    let reused = invite.register("frank", "a-fine-password", Some("code-1"));
    assert!(
        error_text(&reused).contains("unknown or used"),
        "single use: {reused:?}"
    );
}

#[test]
fn registrations_per_address_are_limited() {
    let h = harness(AccountsConfig {
        registrations_per_hour: Some(2),
        ..AccountsConfig::default()
    });
    assert!(matches!(
        h.register("one", "a-fine-password", None),
        Decision::SignIn { .. }
    ));
    assert!(matches!(
        h.register("two", "a-fine-password", None),
        Decision::SignIn { .. }
    ));
    let third = h.register("three", "a-fine-password", None);
    assert_eq!(error_kind(&third), Some(ErrorKind::Throttled));
    assert_eq!(
        error_text(&third),
        "too many registrations from your address: try again in 1 h 0 min"
    );
}

#[test]
fn changes_made_beside_the_server_reach_the_hub() {
    let h = harness(AccountsConfig::default());
    let mut admin = AccountStore::open(&h.path).expect("a second connection");
    let audit = AuditEntry {
        ts: 0,
        actor: "operator".into(),
        action: "create_account".into(),
        target: Some("Grace".into()),
        address: None,
        detail: None,
    };
    let hash = hash::hash("made-by-admin").expect("hashed");
    admin
        .create(&nick("Grace"), &hash, Some(Role::Admin), 0, &audit)
        .expect("created");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match h
            .told
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(Told::Registered(keys)) if keys.contains(&"grace".to_owned()) => break,
            Ok(_) => {}
            Err(e) => panic!("the new account was not noticed: {e}"),
        }
    }
    assert!(matches!(
        h.login("grace", "made-by-admin"),
        Decision::SignIn { .. }
    ));
}

#[test]
fn the_last_admin_keeps_the_role() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = AccountStore::open(&dir.path().join("db")).expect("opens");
    let audit = AuditEntry {
        ts: 0,
        actor: "operator".into(),
        action: "test".into(),
        target: None,
        address: None,
        detail: None,
    };
    store
        .create(&nick("ruth"), "x", Some(Role::Admin), 0, &audit)
        .expect("created");
    assert!(matches!(
        store.set_role(&nick("ruth"), None, &audit),
        Err(StoreError::LastAdmin(_))
    ));
    store
        .create(&nick("second"), "x", None, 0, &audit)
        .expect("created");
    store
        .set_role(&nick("second"), Some(Role::Admin), &audit)
        .expect("granted");
    store
        .set_role(&nick("ruth"), Some(Role::Moderator), &audit)
        .expect("another admin exists now");
    let roles: Vec<_> = store
        .list()
        .expect("lists")
        .into_iter()
        .map(|a| (a.name.to_string(), a.role))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("ruth".to_owned(), Some(Role::Moderator)),
            ("second".to_owned(), Some(Role::Admin))
        ]
    );
}

#[test]
fn the_database_file_holds_no_password_or_invite_code_in_the_clear() {
    let h = harness(AccountsConfig {
        registration: Registration::Invite,
        ..AccountsConfig::default()
    });
    let mut store = AccountStore::open(&h.path).expect("opens");
    store
        .add_invite("invite-code-zebra", "operator", 0)
        .expect("kept");
    h.register("heidi", "plain-text-secret-1", Some("invite-code-zebra"));
    h.run(Request::Passwd {
        account: nick("heidi"),
        old: password("plain-text-secret-1"),
        new: password("plain-text-secret-2"),
    });
    h.login("heidi", "plain-text-secret-3");
    h.accounts.close();
    drop(store);
    let mut bytes = std::fs::read(&h.path).expect("the file reads");
    if let Ok(wal) = std::fs::read(h.path.with_extension("sqlite3-wal")) {
        bytes.extend(wal);
    }
    for secret in ["plain-text-secret", "invite-code-zebra"] {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} is in the database file");
    }
    assert!(
        bytes.windows(9).any(|w| w == b"$argon2id"),
        "the hash is there"
    );
}

#[test]
fn tokens_sign_in_until_revoked_and_are_kept_hashed() {
    let h = harness(AccountsConfig::default());
    h.register("nina", "ninas-password", None);
    let Decision::Reply(ServerEvent::Token { id, token, label }) = h.run(Request::IssueToken {
        account: nick("nina"),
        label: Some("phone".into()),
    }) else {
        panic!("no token");
    };
    assert_eq!((id, label.as_deref()), (1, Some("phone")));
    let parsed = rustchat_proto::AccessToken::parse(&token).expect("the form");
    assert_eq!(
        h.run(Request::TokenLogin {
            token: parsed.clone()
        }),
        signed_in(nick("nina"))
    );
    let listed = h.run(Request::ListTokens {
        account: nick("nina"),
    });
    assert!(
        matches!(&listed, Decision::Reply(ServerEvent::Tokens { tokens }) if tokens.len() == 1 && tokens[0].last_used.is_some()),
        "{listed:?}"
    );
    // Another account cannot revoke it; its owner can, and then it signs nobody in.
    h.register("omar", "omars-password", None);
    let refused = h.run(Request::Revoke {
        account: nick("omar"),
        id,
    });
    assert_eq!(error_kind(&refused), Some(ErrorKind::NoSuchToken));
    assert!(matches!(
        h.run(Request::Revoke {
            account: nick("nina"),
            id
        }),
        Decision::Reply(ServerEvent::Info { .. })
    ));
    let gone = h.run(Request::TokenLogin { token: parsed });
    assert_eq!(error_kind(&gone), Some(ErrorKind::AuthFailed));
    // Ids are never reused: a page holding an old id cannot revoke a newer token by mistake.
    let newer = h.run(Request::IssueToken {
        account: nick("nina"),
        label: None,
    });
    assert!(
        matches!(newer, Decision::Reply(ServerEvent::Token { id: 2, .. })),
        "{newer:?}"
    );
    h.accounts.close();
    let bytes = std::fs::read(&h.path).expect("the file reads");
    let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
    assert!(!found, "the token is in the database file");
}

#[test]
fn the_queue_is_bounded_and_a_full_one_gives_the_job_back() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = AccountStore::open(&dir.path().join("db")).expect("the store opens");
    // No worker started: nothing leaves the queue.
    let accounts = Accounts::new(AccountsConfig::default(), store, ManualClock::new());
    let job = || Job {
        conn: ConnId(1),
        ip: ADDRESS,
        request: Request::ListTokens {
            account: nick("nobody"),
        },
        ticket: Arc::new(Ticket::default()),
        outbox: Outbox::new(
            SlowPolicy::new(1 << 20, Duration::from_secs(2)),
            Wire::Line,
            None,
        ),
        joining: false,
    };
    for n in 0..QUEUE {
        assert!(accounts.submit(job()).is_ok(), "job {n} fits");
    }
    let refused = accounts.submit(job()).expect_err("the queue is full");
    assert_eq!(
        refused.conn,
        ConnId(1),
        "the caller gets its job back to answer `busy`"
    );
    accounts.close();
    assert!(
        accounts.submit(job()).is_err(),
        "a closed service takes nothing"
    );
}

#[test]
fn an_account_holds_at_most_max_tokens() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = AccountStore::open(&dir.path().join("db")).expect("the store opens");
    let audit = AuditEntry {
        ts: 0,
        actor: "pia".into(),
        action: "token_issued".into(),
        target: None,
        address: None,
        detail: None,
    };
    store
        .create(&nick("pia"), "x", None, 0, &audit)
        .expect("created");
    for n in 0..store::MAX_TOKENS_PER_ACCOUNT {
        store
            .add_token(&nick("pia"), &format!("token-{n}"), None, 0, &audit)
            .expect("fits");
    }
    let full = store.add_token(&nick("pia"), "one-more", None, 0, &audit);
    assert!(
        matches!(&full, Err(StoreError::TooManyTokens(name)) if name == "pia"),
        "{full:?}"
    );
    assert_eq!(
        full.map_err(|e| e.to_string()).err().as_deref(),
        Some("pia has 100 access tokens already: revoke one first (/tokens, /revoke)")
    );
}
