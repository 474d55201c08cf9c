use super::*;
use crate::matcher::parse_matchers;

const MIN: i64 = 60_000;
const T0: i64 = 1_700_000_000_000;

fn silence(matchers: &str, starts: i64, ends: i64) -> Silence {
    Silence {
        id: String::new(),
        matchers: Matchers(parse_matchers(matchers).expect("parses")),
        starts_at_ms: starts,
        ends_at_ms: ends,
        updated_at_ms: 0,
        created_by: "me".to_owned(),
        comment: "maintenance".to_owned(),
    }
}

fn memory() -> Silences {
    Silences::open(Box::new(MemorySilenceStore::default())).expect("opens")
}

#[test]
fn states_and_matching() {
    let mut s = memory();
    let id = s
        .set(
            silence("job=api,env=~prod|stage", T0 + MIN, T0 + 10 * MIN),
            T0,
        )
        .expect("set");
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    let sil = s.get(&id).expect("stored").clone();
    assert_eq!(sil.state(T0), SilenceState::Pending);
    assert_eq!(sil.state(T0 + MIN), SilenceState::Active);
    assert_eq!(sil.state(T0 + 10 * MIN), SilenceState::Expired);
    let hit = Labels::new([("job", "api"), ("env", "stage")]).expect("valid");
    let miss = Labels::new([("job", "api"), ("env", "dev")]).expect("valid");
    assert!(s.silenced_by(&hit, T0).is_empty(), "pending does not mute");
    assert_eq!(s.silenced_by(&hit, T0 + 2 * MIN), vec![id.clone()]);
    assert!(s.silenced_by(&miss, T0 + 2 * MIN).is_empty());
}

#[test]
fn start_in_the_past_is_moved_to_now() {
    let mut s = memory();
    let id = s.set(silence("a=b", T0 - MIN, T0 + MIN), T0).expect("set");
    assert_eq!(s.get(&id).expect("stored").starts_at_ms, T0);
}

#[test]
fn updates_in_place_or_replaces() {
    let mut s = memory();
    let id = s.set(silence("a=b", T0, T0 + 10 * MIN), T0).expect("set");
    // Extending an active silence keeps the id.
    let mut longer = s.get(&id).expect("stored").clone();
    longer.ends_at_ms = T0 + 20 * MIN;
    assert_eq!(s.set(longer, T0 + MIN).expect("update"), id);
    assert_eq!(s.get(&id).expect("stored").ends_at_ms, T0 + 20 * MIN);
    // Changing the matchers expires the old one and makes a new one.
    let mut other = s.get(&id).expect("stored").clone();
    other.matchers = Matchers(parse_matchers("a=c").expect("parses"));
    let new_id = s.set(other, T0 + 2 * MIN).expect("replace");
    assert_ne!(new_id, id);
    assert_eq!(
        s.get(&id).expect("kept").state(T0 + 2 * MIN),
        SilenceState::Expired
    );
    assert_eq!(
        s.get(&new_id).expect("new").state(T0 + 2 * MIN),
        SilenceState::Active
    );
    // Unknown ids are refused.
    let mut ghost = silence("a=b", T0, T0 + MIN);
    ghost.id = "nope".to_owned();
    assert_eq!(s.set(ghost, T0), Err(NotifyError::SilenceNotFound));
}

#[test]
fn expire_rules() {
    let mut s = memory();
    let active = s.set(silence("a=b", T0, T0 + 10 * MIN), T0).expect("set");
    let pending = s
        .set(silence("a=c", T0 + 5 * MIN, T0 + 10 * MIN), T0)
        .expect("set");
    s.expire(&active, T0 + MIN).expect("expires");
    assert_eq!(s.get(&active).expect("kept").ends_at_ms, T0 + MIN);
    s.expire(&pending, T0 + MIN).expect("expires");
    let p = s.get(&pending).expect("kept");
    assert_eq!((p.starts_at_ms, p.ends_at_ms), (T0 + MIN, T0 + MIN));
    assert_eq!(
        s.expire(&active, T0 + 2 * MIN).unwrap_err().to_string(),
        format!("silence {active} already expired")
    );
    assert_eq!(s.expire("x", T0), Err(NotifyError::SilenceNotFound));
    // Retention: gone 120h after the end.
    assert_eq!(s.gc(T0 + MIN + DEFAULT_RETENTION_MS - 1).expect("gc"), 0);
    assert_eq!(s.gc(T0 + MIN + DEFAULT_RETENTION_MS).expect("gc"), 2);
}

#[test]
fn validation_messages() {
    let mut s = memory();
    let mut none = silence("a=b", T0, T0 + MIN);
    none.matchers = Matchers::default();
    assert_eq!(
        s.set(none, T0).unwrap_err().to_string(),
        "silence invalid: at least one matcher required"
    );
    assert_eq!(
        s.set(silence("a=b", T0 + MIN, T0), T0)
            .unwrap_err()
            .to_string(),
        "silence invalid: end time must not be before start time"
    );
    assert_eq!(
        s.set(silence("a=b", 0, T0), T0).unwrap_err().to_string(),
        "silence invalid: invalid zero start timestamp"
    );
}

#[test]
fn sqlite_store_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("silences.sqlite");
    let id = {
        let store = SqliteSilenceStore::open(&path).expect("opens");
        let mut s = Silences::open(Box::new(store)).expect("loads");
        let id = s
            .set(
                silence(r#"job=~"api|web",msg!="a \"q\"""#, T0, T0 + 10 * MIN),
                T0,
            )
            .expect("set");
        s.expire(&id, T0 + MIN).expect("expire");
        id
    };
    let store = SqliteSilenceStore::open(&path).expect("reopens");
    let s = Silences::open(Box::new(store)).expect("loads");
    let back = s.get(&id).expect("persisted");
    assert_eq!(back.ends_at_ms, T0 + MIN);
    assert_eq!(
        back.matchers.to_string(),
        r#"{job=~"api|web",msg!="a \"q\""}"#
    );
    assert_eq!(back.created_by, "me");
    assert!(back.matchers.0[0].matches_value("web"));
}
