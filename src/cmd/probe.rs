//! `mqtt-conform probe TARGET`: what a broker supports and its limits.

use std::path::PathBuf;
use std::process::ExitCode;

use mqtt_conformance::session::probe_blocking;

/// Arguments of `mqtt-conform probe`.
#[derive(Debug, Default, clap::Args)]
pub struct ProbeArgs {
    /// `embedded`, `tcp://HOST:PORT`, `mqtts://HOST:PORT`, `ws://HOST:PORT/PATH` or
    /// `wss://HOST:PORT/PATH`.
    pub target: String,
    #[command(flatten)]
    pub tls: super::run::TlsArgs,
    /// Broker profile (YAML) with credentials and capability overrides.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ProbeArgs) -> ExitCode {
    let spec = match super::run::target_spec(&args.target, &args.tls) {
        Ok(s) => s,
        Err(e) => return super::usage_error(e),
    };
    let profile = match super::run::load_profile(&args.profile) {
        Ok(p) => p,
        Err(e) => return super::usage_error(e),
    };
    let report = match probe_blocking(&spec, &profile) {
        Ok(r) => r,
        Err(e) => return super::usage_error(e),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return super::usage_error(e),
        }
        return ExitCode::SUCCESS;
    }
    let c = &report.capabilities;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let opt = |v: Option<u32>| {
        v.map(|x| x.to_string())
            .unwrap_or_else(|| "no limit announced".into())
    };
    println!("Capabilities of {spec}");
    println!("  MQTT 3.1.1                  {}", yes(c.v311));
    println!("  MQTT 5.0                    {}", yes(c.v5));
    println!("  maximum QoS                 {}", c.maximum_qos);
    println!("  retained messages           {}", yes(c.retain));
    println!("  wildcard subscriptions      {}", yes(c.wildcards));
    println!(
        "  shared subscriptions        {}",
        yes(c.shared_subscriptions)
    );
    println!("  subscription identifiers    {}", yes(c.subscription_ids));
    println!("  topic alias maximum         {}", c.topic_alias_maximum);
    println!("  receive maximum             {}", c.receive_maximum);
    println!(
        "  maximum packet size         {}",
        opt(c.maximum_packet_size)
    );
    println!(
        "  server keep alive           {}",
        opt(c.server_keep_alive.map(u32::from))
    );
    println!(
        "  longest client id accepted  {}",
        c.maximum_client_id_length
            .map(|n| if n >= 1024 {
                ">= 1024".to_string()
            } else {
                n.to_string()
            })
            .unwrap_or_else(|| "none of the lengths tried".into())
    );
    println!("  zero-length client id       {}", yes(c.empty_client_id));
    println!(
        "  persistent sessions         {}",
        yes(c.persistent_sessions)
    );
    println!("  $SYS topics                 {}", yes(c.sys_topics));
    println!(
        "  response information        {}",
        yes(c.response_information)
    );
    for n in &report.notes {
        println!("  note: {n}");
    }
    ExitCode::SUCCESS
}
