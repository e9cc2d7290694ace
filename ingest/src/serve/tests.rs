//! Tests of the local server's in-flight body budget: shares taken up to the limit and given back.

use super::*;

fn guard(limit: u64) -> Arc<Guard> {
    Arc::new(Guard {
        budget: Budget {
            limit,
            used: AtomicU64::new(0),
        },
        max_body_bytes: limit,
        body_timeout: Duration::from_secs(1),
        body_idle_timeout: Duration::from_secs(1),
    })
}

#[test]
fn shares_take_up_to_the_limit_and_give_back_when_dropped() {
    let g = guard(100);
    let a = Share::new(g.clone());
    assert!(a.take(60));
    let b = Share::new(g.clone());
    assert!(!b.take(41), "over the limit: nothing taken");
    assert!(b.take(40));
    assert!(!b.take(1));
    assert_eq!(g.budget.used.load(Ordering::Acquire), 100);
    drop(a);
    assert_eq!(g.budget.used.load(Ordering::Acquire), 40);
    assert!(b.take(60));
    drop(b);
    assert_eq!(g.budget.used.load(Ordering::Acquire), 0);
    let c = Share::new(g.clone());
    assert!(c.take(0) && !c.take(u64::MAX), "no overflow");
    assert_eq!(c.cut(), Cut::None);
    c.set_cut(Cut::OverBudget);
    assert_eq!(c.cut(), Cut::OverBudget);
}
