//! Runs one seed of one scenario and prints its history (a developer aid).
fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "qos1".into());
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let Some(sc) = mqtt_simulator::scenario::by_name(&name) else {
        eprintln!("unknown scenario");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    let o = mqtt_simulator::run(&mqtt_simulator::RunConfig::new(sc, seed));
    let wall = t.elapsed();
    for e in &o.history.events {
        println!("{e}");
    }
    for (id, c) in &o.history.nic {
        println!("nic #{id}: {c:?}");
    }
    println!("schedule: {}", o.schedule);
    for v in &o.violations {
        println!("VIOLATION {v}");
    }
    println!(
        "end {}ms, digest {:016x}, wall {:?}",
        o.end_ms, o.digest, wall
    );
}
