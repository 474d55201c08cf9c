use super::*;

fn alert(state: AlertState) -> ActiveAlert {
    ActiveAlert {
        labels: Labels::default(),
        annotations: Labels::default(),
        state,
        value: 1.0,
        active_at_ms: 0,
        fired_at_ms: None,
        resolved_at_ms: None,
        last_sent_at_ms: None,
        valid_until_ms: 0,
        keep_firing_since_ms: None,
    }
}

#[test]
fn pending_alerts_are_never_sent() {
    assert!(!alert(AlertState::Pending).needs_sending(1_000_000, 60_000));
}

#[test]
fn firing_alerts_are_resent_strictly_after_the_delay() {
    let mut a = alert(AlertState::Firing);
    assert!(a.needs_sending(0, 60_000), "never sent");
    a.last_sent_at_ms = Some(0);
    assert!(
        !a.needs_sending(60_000, 60_000),
        "exactly the delay is not past it"
    );
    assert!(a.needs_sending(60_001, 60_000));
}

#[test]
fn resolved_alerts_are_sent_at_once_then_with_the_delay() {
    let mut a = alert(AlertState::Inactive);
    a.last_sent_at_ms = Some(10_000);
    a.resolved_at_ms = Some(20_000);
    assert!(a.needs_sending(20_000, 60_000));
    a.last_sent_at_ms = Some(20_000);
    assert!(!a.needs_sending(30_000, 60_000));
    assert!(a.needs_sending(80_001, 60_000));
}

#[test]
fn state_names_match_prometheus() {
    assert_eq!(AlertState::Inactive.as_str(), "inactive");
    assert_eq!(AlertState::Pending.as_str(), "pending");
    assert_eq!(AlertState::Firing.as_str(), "firing");
    assert!(AlertState::Firing > AlertState::Pending);
}
