//! Runs one seed twice in one process and prints where the histories differ (a developer aid).
fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "qos2".into());
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let Some(sc) = mqtt_simulator::scenario::by_name(&name) else {
        std::process::exit(2);
    };
    let cfg = mqtt_simulator::RunConfig::new(sc, seed);
    let a = mqtt_simulator::run(&cfg);
    let b = mqtt_simulator::run(&cfg);
    println!("digests {:016x} {:016x}", a.digest, b.digest);
    for (i, (x, y)) in a.history.events.iter().zip(&b.history.events).enumerate() {
        if x != y {
            println!("first difference at event {i}:\n  {x}\n  {y}");
            break;
        }
    }
    for ((i, x), (_, y)) in a.history.nic.iter().zip(&b.history.nic) {
        if x != y {
            println!("nic #{i}:\n  {x:?}\n  {y:?}");
        }
    }
}
