//! `report.html`: one self-contained page (inline CSS and JS, no external asset, works
//! offline): the run, a conformance figure per protocol version, a table by chapter, every test
//! (failures expand to their packet trace), and the coverage of every statement of the
//! standard; filtering by verdict and by text.

use std::fmt::Write as _;

use crate::coverage::{coverage, sorted_chapters, Catalogue, ProtocolCoverage, Uncovered};
use crate::escape::html as esc;
use crate::markdown::{fields_text, fmt_duration, spaced_hex};
use crate::model::{chapter_of, Protocol, Results, TestResult, TraceEntry, Verdict};
use crate::summary::{by_chapter, by_protocol, group_by_chapter, Counts};

/// The style sheet shared by the report and the comparison.
pub(crate) const CSS: &str = r#"
:root{--pass:#1a7f37;--fail:#cf222e;--advisory:#9a6700;--skip:#8c959f;--inconclusive:#8250df;--error:#bc4c00;--none:#d0d7de;
--fg:#1f2328;--muted:#59636e;--line:#d8dee4;--bg:#ffffff;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
header.top{padding:24px 32px 16px;border-bottom:1px solid var(--line);background:var(--soft)}
h1{margin:0 0 4px;font-size:24px;font-weight:650}
h2{font-size:19px;margin:32px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px}
.subtitle{margin:0 0 12px;color:var(--muted);font-size:15px}
main{padding:0 32px 48px;max-width:1400px}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0;font-size:13px}
dl.run dt{color:var(--muted)}dl.run dd{margin:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:16px;margin-top:20px}
.card{border:1px solid var(--line);border-radius:8px;padding:16px 20px;min-width:320px;flex:1 1 320px;max-width:560px}
.card .proto{font-weight:600;color:var(--muted);text-transform:uppercase;font-size:12px;letter-spacing:.05em}
.card .figure{font-size:40px;font-weight:700;line-height:1.1;margin:4px 0 0}
.card .caption{color:var(--muted);font-size:13px;margin-bottom:10px}
.good{color:var(--pass)}.fair{color:var(--advisory)}.poor{color:var(--fail)}.na{color:var(--muted)}
.bar{display:flex;height:10px;border-radius:5px;overflow:hidden;background:var(--none);min-width:80px}
.bar span{display:block;height:100%}
.counts{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;padding:0;margin:10px 0 0;font-size:13px}
.counts b{font-weight:650}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:5px;vertical-align:0}
.bg-pass{background:var(--pass)}.bg-fail{background:var(--fail)}.bg-advisory{background:#d4a72c}.bg-skip{background:var(--skip)}
.bg-inconclusive{background:var(--inconclusive)}.bg-covered{background:#0969da}.bg-client{background:#9ec5fe}.bg-internal{background:#c8d1da}.bg-none{background:var(--none)}.bg-error{background:var(--error)}.bg-deviation{background:repeating-linear-gradient(135deg,var(--fail) 0 3px,#f3a6ab 3px 6px)}
.outcome{margin:16px 0 0;padding:10px 14px;border-radius:6px;font-weight:600}
.outcome.ok{background:#dafbe1;color:#116329}.outcome.bad{background:#ffebe9;color:#a40e26}
.outcome ul{margin:6px 0 0;padding:0;list-style:none;font-weight:400;color:var(--fg)}.outcome li{margin:3px 0}.outcome a{color:#0969da}
.muted{color:var(--muted)}.nowrap{white-space:nowrap}
a code{color:#0969da}
.note{color:var(--muted);font-size:12.5px;margin:8px 0 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft);font-weight:600;position:sticky;top:52px;z-index:1}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.zero{color:#afb8c1}
td.barcell{width:160px;vertical-align:middle}
tr.group td{background:#fbfcfd;font-weight:600;color:var(--muted);padding-top:10px}
tr.section td{font-size:15px;font-weight:650;padding-top:18px;border-bottom:2px solid var(--line)}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11.5px;font-weight:600;color:#fff;white-space:nowrap;text-decoration:none}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.advisory{background:#d4a72c;color:#3b2300}.badge.skip{background:var(--skip)}
.badge.inconclusive{background:var(--inconclusive)}.badge.error{background:var(--error)}.badge.deviation{background:#f3a6ab;color:#82071e}
.badge.none{background:var(--soft);color:var(--muted);border:1px solid var(--line);font-weight:500}
.filters{position:sticky;top:0;z-index:2;background:rgba(255,255,255,.97);border-bottom:1px solid var(--line);padding:10px 0;display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
.filters label{cursor:pointer;user-select:none;white-space:nowrap}
.filters input[type=search]{flex:1 1 260px;max-width:420px;padding:5px 9px;border:1px solid var(--line);border-radius:6px;font:inherit}
.filters .shown{color:var(--muted);font-size:12.5px}
nav.toc{margin:14px 0 0;font-size:13px}nav.toc a{margin-right:14px;color:#0969da;text-decoration:none}
.test{border-bottom:1px solid var(--line)}
.test>details>summary{display:grid;grid-template-columns:128px minmax(220px,2fr) minmax(200px,3fr) 70px;gap:10px;padding:6px 8px;cursor:pointer;list-style:none;align-items:baseline}
.test>details>summary::-webkit-details-marker{display:none}
.test>details>summary:hover{background:var(--soft)}
.test>details>summary .id::before{content:"▸ ";color:var(--muted)}
.test>details[open]>summary .id::before{content:"▾ "}
.test .id{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.test .title{color:var(--fg)}.test .dur{color:var(--muted);text-align:right;font-size:12px}
.test .body{padding:4px 16px 14px 146px}
.test dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:4px 0 10px}
.test dt{color:var(--muted)}.test dd{margin:0;white-space:pre-wrap}
.stmts{margin:0;padding-left:0;list-style:none}.stmts li{margin:1px 0}
.trace{margin-top:8px;border:1px solid var(--line);border-radius:6px;overflow:hidden}
.trace table{font-size:12px}.trace td{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;border-bottom:1px solid #eef1f4}
.trace th{position:static}
.trace td.dir{text-align:center;font-weight:700;width:28px}.trace tr.out td.dir{color:#0969da}.trace tr.in td.dir{color:var(--pass)}.trace tr.event td{color:var(--muted);font-style:italic}
.trace td.hex{color:var(--muted);word-break:break-all;max-width:420px}.trace td.fields{word-break:break-word}
.uncovered{color:var(--muted);font-style:italic}
.cov-summary{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;margin:4px 0 10px}
.legend{color:var(--muted);font-size:12.5px;margin:0 0 10px}.legend .dot{margin-left:12px}.legend .dot:first-child{margin-left:0}
.matrix td.cell{text-align:center;white-space:nowrap}
.matrix th.run{text-align:center;white-space:normal;min-width:120px}
.diff td{background:#fff8c5}
.empty{color:var(--muted);font-style:italic;padding:8px}
[hidden]{display:none!important}
@media print{.filters{display:none}details{display:block}}
"#;

/// The filtering script: checkboxes named by verdict and a text box; every element with a
/// `data-verdict` (one verdict, or several separated by spaces) is shown only when one of its
/// verdicts is ticked and its `data-text` holds the text; with the `diffonly` box ticked,
/// elements marked `data-same` are hidden.
pub(crate) const JS: &str = r#"
(function(){
  var boxes=[].slice.call(document.querySelectorAll('input[data-verdict-filter]'));
  var q=document.getElementById('q');
  var shown=document.getElementById('shown');
  var diff=document.getElementById('diffonly');
  function apply(){
    var on={};boxes.forEach(function(b){on[b.value]=b.checked;});
    var text=(q&&q.value||'').trim().toLowerCase();
    var n=0,total=0;
    [].slice.call(document.querySelectorAll('[data-verdict]')).forEach(function(el){
      var vs=el.getAttribute('data-verdict').split(' ');
      var ok=vs.some(function(v){return on[v]!==false;})&&(!text||(el.getAttribute('data-text')||'').indexOf(text)>=0)&&!(diff&&diff.checked&&el.hasAttribute('data-same'));
      el.hidden=!ok;
      if(el.classList.contains('test')){total++;if(ok)n++;}
    });
    [].slice.call(document.querySelectorAll('[data-group]')).forEach(function(g){
      g.hidden=!g.querySelector('[data-verdict]:not([hidden])');
    });
    function heads(sel,stop){
      [].slice.call(document.querySelectorAll(sel)).forEach(function(tr){
        var r=tr.nextElementSibling,any=false;
        while(r&&!stop.some(function(c){return r.classList.contains(c);})){
          if(!r.hidden&&!r.classList.contains('group')){any=true;break;}
          r=r.nextElementSibling;
        }
        tr.hidden=!any;
      });
    }
    heads('tr.group',['group','section']);heads('tr.section',['section']);
    if(shown){shown.textContent=n+' of '+total+' tests shown';}
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  if(q){q.addEventListener('input',apply);}
  if(diff){diff.addEventListener('change',apply);}
  function openTarget(){
    var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);
    if(el){var d=el.querySelector('details');if(d){d.open=true;}el.hidden=false;}
  }
  window.addEventListener('hashchange',openTarget);openTarget();apply();
})();
"#;

/// Renders `results` as one self-contained HTML page, with `catalogue` for chapter titles and
/// statement coverage.
pub fn render(results: &Results, catalogue: &dyn Catalogue) -> String {
    let mut o = String::new();
    let label = results.label();
    head(&mut o, &format!("MQTT conformance report — {label}"));
    let _ = write!(
        o,
        "<header class=\"top\"><h1>MQTT conformance report</h1><p class=\"subtitle\">{}</p>",
        esc(&subtitle(results))
    );
    run_facts(&mut o, results);
    let _ = write!(
        o,
        "<nav class=\"toc\"><a href=\"#summary\">Summary</a><a href=\"#chapters\">By chapter</a>\
         <a href=\"#tests\">Tests</a><a href=\"#coverage\">Statement coverage</a></nav></header>\n<main>\n"
    );

    summary(&mut o, results);
    chapters(&mut o, results, catalogue);
    tests(&mut o, results, catalogue);
    coverage_section(&mut o, results, catalogue);

    let _ = write!(
        o,
        "</main>\n<footer class=\"note\" style=\"padding:0 32px 24px\">Generated by {} {} · results schema {}</footer>\n<script>/*<![CDATA[*/{JS}/*]]>*/</script>\n</body>\n</html>\n",
        esc(&results.tool.name),
        esc(&results.tool.version),
        results.schema_version
    );
    o
}

pub(crate) fn head(o: &mut String, title: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>/*<![CDATA[*/{CSS}/*]]>*/</style>\n</head>\n<body>\n",
        esc(title)
    );
}

fn subtitle(r: &Results) -> String {
    match &r.run.broker {
        Some(b) => format!(
            "{}{} at {}",
            b.name,
            b.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            r.run.target
        ),
        None => r.run.target.clone(),
    }
}

fn run_facts(o: &mut String, r: &Results) {
    o.push_str("<dl class=\"run\">");
    let mut fact = |k: &str, v: &str, mono: bool| {
        let v = if mono {
            format!("<code>{}</code>", esc(v))
        } else {
            esc(v)
        };
        let _ = write!(o, "<dt>{k}</dt><dd>{v}</dd>");
    };
    fact("Target", &r.run.target, true);
    if let Some(b) = &r.run.broker {
        fact(
            "Broker",
            &format!(
                "{} {}",
                b.name,
                b.version.as_deref().unwrap_or("(version unknown)")
            ),
            false,
        );
    }
    if let Some(p) = &r.run.profile {
        fact("Profile", p, true);
    }
    let protocols: Vec<String> = r
        .run
        .protocols
        .iter()
        .map(|p| format!("MQTT {p}"))
        .collect();
    fact("Protocols", &protocols.join(", "), false);
    fact("Started", &r.run.started_at, false);
    fact("Duration", &fmt_duration(r.run.duration_ms), false);
    fact(
        "Tool",
        &format!("{} {}", r.tool.name, r.tool.version),
        false,
    );
    o.push_str("</dl>");
}

fn figure_class(c: &Counts) -> &'static str {
    match c.conformance() {
        None => "na",
        Some(f) if f >= 0.999_999 => "good",
        Some(f) if f >= 0.9 => "fair",
        Some(_) => "poor",
    }
}

/// A stacked bar of the verdicts, known deviations striped.
pub(crate) fn bar(o: &mut String, c: &Counts) {
    let total = c.total();
    o.push_str("<div class=\"bar\" role=\"img\" aria-label=\"");
    let parts: Vec<String> = Verdict::ALL
        .iter()
        .filter(|v| c.get(**v) > 0)
        .map(|v| format!("{} {}", c.get(*v), v.label().to_lowercase()))
        .collect();
    o.push_str(&esc(&parts.join(", ")));
    o.push_str("\">");
    if total > 0 {
        let mut seg = |class: &str, n: usize, title: &str| {
            if n > 0 {
                let pct = n as f64 * 100.0 / total as f64;
                let _ = write!(
                    o,
                    "<span class=\"bg-{class}\" style=\"width:{pct:.3}%\" title=\"{n} {title}\"></span>"
                );
            }
        };
        seg("pass", c.pass, "passed");
        seg("fail", c.fail - c.known_deviations, "failed");
        seg("deviation", c.known_deviations, "failed, known deviation");
        seg("advisory", c.advisory, "advisory");
        seg("inconclusive", c.inconclusive, "inconclusive");
        seg("error", c.error, "error");
        seg("skip", c.skip, "skipped");
    }
    o.push_str("</div>");
}

fn summary(o: &mut String, results: &Results) {
    o.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    for (p, c) in by_protocol(results) {
        let decided = c.must_pass + c.fail;
        let mut caption = if decided == 0 {
            "no MUST-level test had a decided outcome".to_string()
        } else {
            format!("of {decided} decided MUST-level tests passed")
        };
        let undecided = c.error + c.inconclusive;
        if undecided > 0 {
            caption.push_str(&format!(
                "; {} not decided (error or inconclusive)",
                undecided
            ));
        }
        let _ = write!(
            o,
            "<div class=\"card\"><div class=\"proto\">MQTT {p}</div>\
             <div class=\"figure {}\">{}</div><div class=\"caption\">{}</div>",
            figure_class(&c),
            esc(&c.conformance_text()),
            esc(&caption)
        );
        bar(o, &c);
        o.push_str("<ul class=\"counts\">");
        for v in Verdict::ALL {
            let n = c.get(v);
            let extra = if v == Verdict::Fail && c.known_deviations > 0 {
                format!(" ({} known)", c.known_deviations)
            } else {
                String::new()
            };
            let _ = write!(
                o,
                "<li><span class=\"dot bg-{}\"></span><b>{n}</b> {}{extra}</li>",
                v.as_str(),
                v.label().to_lowercase()
            );
        }
        let _ = write!(o, "<li class=\"na\">{} tests</li></ul></div>", c.total());
    }
    o.push_str("</div>");
    let blocking: Vec<&TestResult> = results.tests.iter().filter(|t| t.is_blocking()).collect();
    if blocking.is_empty() {
        o.push_str(
            "<p class=\"outcome ok\">No unexpected failure: the run exits with status 0.</p>",
        );
    } else {
        let fails = blocking
            .iter()
            .filter(|t| t.verdict == Verdict::Fail)
            .count();
        let errors = blocking.len() - fails;
        let mut what = Vec::new();
        if fails > 0 {
            what.push(plural(fails, "unexpected failure", "unexpected failures"));
        }
        if errors > 0 {
            what.push(plural(errors, "suite error", "suite errors"));
        }
        let _ = write!(
            o,
            "<div class=\"outcome bad\">{}: the run exits with status 1.<ul>",
            esc(&what.join(" and "))
        );
        for t in &blocking {
            let _ = write!(
                o,
                "<li>{} <a href=\"#{}\"><code>{}</code></a> <span class=\"muted\">MQTT {} · {}</span></li>",
                badge(t),
                esc(&test_anchor(t.protocol, &t.id)),
                esc(&t.id),
                t.protocol,
                esc(&t.title)
            );
        }
        o.push_str("</ul></div>");
    }
    o.push_str(
        "<p class=\"note\">The conformance figure is the share of MUST-level tests with a decided \
         outcome that passed; failures explained by a known deviation of the broker profile count \
         as failures there but do not fail the run. Advisory marks a SHOULD that was not met and \
         never fails a run.</p></section>\n",
    );
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn num_cell(o: &mut String, n: usize) {
    if n == 0 {
        o.push_str("<td class=\"n zero\">0</td>");
    } else {
        let _ = write!(o, "<td class=\"n\">{n}</td>");
    }
}

fn chapters(o: &mut String, results: &Results, catalogue: &dyn Catalogue) {
    o.push_str(
        "<section id=\"chapters\"><h2>By chapter</h2><table><thead><tr><th>Chapter</th><th>Title</th>\
         <th></th><th class=\"n\">Passed</th><th class=\"n\">Failed</th><th class=\"n\">Advisory</th>\
         <th class=\"n\">Skipped</th><th class=\"n\">Inconclusive</th><th class=\"n\">Error</th></tr></thead><tbody>",
    );
    let rows = by_chapter(results);
    let mut current: Option<Protocol> = None;
    for row in &rows {
        if current != Some(row.protocol) {
            current = Some(row.protocol);
            let _ = write!(
                o,
                "<tr class=\"group\"><td colspan=\"9\">MQTT {}</td></tr>",
                row.protocol
            );
        }
        let title = catalogue
            .chapter_title(row.protocol, &row.chapter)
            .unwrap_or_default();
        let _ = write!(
            o,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"barcell\">",
            esc(&group_anchor(row.protocol, &row.chapter)),
            esc(&row.chapter),
            esc(&title)
        );
        bar(o, &row.counts);
        o.push_str("</td>");
        let c = &row.counts;
        for n in [c.pass, c.fail, c.advisory, c.skip, c.inconclusive, c.error] {
            num_cell(o, n);
        }
        o.push_str("</tr>");
    }
    if rows.is_empty() {
        o.push_str("<tr><td colspan=\"9\" class=\"empty\">No test ran.</td></tr>");
    }
    o.push_str("</tbody></table></section>\n");
}

/// The sticky filter bar: a checkbox per verdict, and for the single report one for
/// statements no test checks; a text box.
pub(crate) fn filters(o: &mut String, results: &Results, with_unchecked: bool) {
    filters_with(o, Some(&Counts::of(&results.tests)), with_unchecked, false);
}

/// The filter bar with given counts, optionally with a "differences only" box.
pub(crate) fn filters_with(
    o: &mut String,
    all: Option<&Counts>,
    with_unchecked: bool,
    with_diff: bool,
) {
    o.push_str("<div class=\"filters\" role=\"search\"><b>Show</b>");
    for v in Verdict::ALL {
        let _ = write!(
            o,
            "<label><input type=\"checkbox\" data-verdict-filter=\"\" value=\"{}\" checked=\"checked\"/> \
             <span class=\"badge {}\">{}</span>{}</label>",
            v.as_str(),
            v.as_str(),
            v.label(),
            all.map(|c| format!(" {}", c.get(v))).unwrap_or_default()
        );
    }
    if with_unchecked {
        o.push_str(
            "<label title=\"statements no test checks, in the coverage view\">\
             <input type=\"checkbox\" data-verdict-filter=\"\" value=\"none\" checked=\"checked\"/> \
             <span class=\"badge none\">not checked</span></label>",
        );
    }
    if with_diff {
        o.push_str("<label><input type=\"checkbox\" id=\"diffonly\"/> differences only</label>");
    }
    o.push_str(
        "<input type=\"search\" id=\"q\" placeholder=\"Filter by test id, title, statement, text…\" \
         aria-label=\"Filter by text\"/><span class=\"shown\" id=\"shown\"></span></div>\n",
    );
}

fn group_anchor(p: Protocol, chapter: &str) -> String {
    format!("ch-{p}-{}", chapter.replace(char::is_whitespace, "_"))
}

pub(crate) fn test_anchor(p: Protocol, id: &str) -> String {
    format!("t-{p}-{}", id.replace(char::is_whitespace, "_"))
}

/// The text the filter box searches, lowercase.
fn search_text(t: &TestResult) -> String {
    let mut s = format!(
        "{} {} mqtt {} {} {} {}",
        t.id,
        t.title,
        t.protocol,
        t.chapter,
        t.statements.join(" "),
        t.verdict.as_str()
    );
    for v in [&t.expected, &t.observed, &t.reason, &t.deviation]
        .into_iter()
        .flatten()
    {
        s.push(' ');
        s.push_str(v);
    }
    s.to_lowercase()
}

pub(crate) fn badge(t: &TestResult) -> String {
    if t.is_known_deviation() {
        "<span class=\"badge deviation\" title=\"failed, explained by a known deviation\">Known deviation</span>".to_string()
    } else {
        format!(
            "<span class=\"badge {}\">{}</span>",
            t.verdict.as_str(),
            t.verdict.label()
        )
    }
}

fn tests(o: &mut String, results: &Results, catalogue: &dyn Catalogue) {
    o.push_str("<section id=\"tests\"><h2>Tests</h2>");
    filters(o, results, true);
    if results.tests.is_empty() {
        o.push_str("<p class=\"empty\">No test ran.</p>");
    }
    let mut catalogues: Vec<(Protocol, Vec<crate::coverage::StatementInfo>)> = Vec::new();
    for ((p, chapter), ts) in group_by_chapter(results) {
        if !catalogues.iter().any(|(q, _)| *q == p) {
            catalogues.push((p, catalogue.statements(p)));
        }
        let statements = catalogues
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, s)| s.as_slice())
            .unwrap_or(&[]);
        let title = catalogue.chapter_title(p, &chapter).unwrap_or_default();
        let _ = write!(
            o,
            "<div data-group=\"\" id=\"{}\"><h3>MQTT {p} · {} {}</h3>",
            esc(&group_anchor(p, &chapter)),
            esc(&chapter),
            esc(&title)
        );
        for t in ts {
            test_row(o, t, statements);
        }
        o.push_str("</div>\n");
    }
    o.push_str("</section>\n");
}

fn test_row(o: &mut String, t: &TestResult, statements: &[crate::coverage::StatementInfo]) {
    let _ = write!(
        o,
        "<div class=\"test\" id=\"{}\" data-verdict=\"{}\" data-text=\"{}\"><details><summary>\
         <span>{}</span><span class=\"id\">{}</span><span class=\"title\">{}</span>\
         <span class=\"dur\">{}</span></summary><div class=\"body\">",
        esc(&test_anchor(t.protocol, &t.id)),
        t.verdict.as_str(),
        esc(&search_text(t)),
        badge(t),
        esc(&t.id),
        esc(&t.title),
        esc(&fmt_duration(t.duration_ms))
    );
    o.push_str("<dl>");
    let _ = write!(
        o,
        "<dt>Level</dt><dd>{}</dd>",
        t.level.as_str().to_uppercase()
    );
    o.push_str("<dt>Statements</dt><dd><ul class=\"stmts\">");
    if t.statements.is_empty() {
        o.push_str("<li class=\"uncovered\">none named</li>");
    }
    for id in &t.statements {
        let summary = statements
            .iter()
            .find(|s| s.id == *id || s.aliases.contains(id))
            .map(|s| s.summary.as_str())
            .unwrap_or("");
        let _ = write!(
            o,
            "<li><a href=\"#{}\"><code>{}</code></a> {}</li>",
            esc(&statement_anchor(t.protocol, id)),
            esc(id),
            esc(summary)
        );
    }
    o.push_str("</ul></dd>");
    for (label, v) in [
        ("Expected", &t.expected),
        ("Observed", &t.observed),
        ("Reason", &t.reason),
        ("Known deviation", &t.deviation),
    ] {
        if let Some(v) = v {
            let _ = write!(o, "<dt>{label}</dt><dd>{}</dd>", esc(v));
        }
    }
    o.push_str("</dl>");
    if !t.trace.is_empty() {
        trace(o, &t.trace);
    }
    o.push_str("</div></details></div>\n");
}

fn trace(o: &mut String, entries: &[TraceEntry]) {
    o.push_str(
        "<div class=\"trace\"><table><thead><tr><th class=\"n\">t (ms)</th><th></th><th>Packet</th>\
         <th>Fields</th><th>Bytes</th></tr></thead><tbody>",
    );
    for e in entries {
        let _ = write!(
            o,
            "<tr class=\"{}\"><td class=\"n\">{:.3}</td><td class=\"dir\" title=\"{}\">{}</td><td>{}</td>\
             <td class=\"fields\">{}</td><td class=\"hex\">{}</td></tr>",
            e.dir.as_str(),
            e.t_ms,
            match e.dir {
                crate::model::Direction::Out => "sent by the suite",
                crate::model::Direction::In => "received from the broker",
                crate::model::Direction::Event => "event",
            },
            e.dir.arrow(),
            esc(&e.packet),
            esc(&fields_text(&e.fields)),
            esc(&spaced_hex(&e.hex))
        );
    }
    o.push_str("</tbody></table></div>");
}

fn statement_anchor(p: Protocol, id: &str) -> String {
    format!("s-{p}-{}", id.replace(char::is_whitespace, "_"))
}

fn coverage_section(o: &mut String, results: &Results, catalogue: &dyn Catalogue) {
    o.push_str("<section id=\"coverage\"><h2>Statement coverage</h2>");
    let cov = coverage(results, catalogue);
    if cov.iter().all(|c| c.statements.is_empty()) {
        o.push_str("<p class=\"empty\">No statement catalogue is available.</p>");
    }
    for c in &cov {
        protocol_coverage(o, c, catalogue);
    }
    o.push_str("</section>\n");
}

fn protocol_coverage(o: &mut String, c: &ProtocolCoverage<'_>, catalogue: &dyn Catalogue) {
    let _ = write!(
        o,
        "<h3>MQTT {}</h3><div class=\"cov-summary\"><span><b>{}</b> statements</span>\
         <span><b>{}</b> checked by a test</span><span><b>{}</b> client-only</span>\
         <span><b>{}</b> internal-only</span><span><b>{}</b> no test yet</span></div>",
        c.protocol,
        c.statements.len(),
        c.covered(),
        c.uncovered(Uncovered::ClientOnly),
        c.uncovered(Uncovered::InternalOnly),
        c.uncovered(Uncovered::NoTestYet)
    );
    if c.statements.is_empty() {
        return;
    }
    let total = c.statements.len();
    o.push_str("<div class=\"bar\" style=\"max-width:560px;margin-bottom:6px\">");
    for (class, n, what) in [
        ("covered", c.covered(), "checked by a test"),
        ("client", c.uncovered(Uncovered::ClientOnly), "client-only"),
        (
            "internal",
            c.uncovered(Uncovered::InternalOnly),
            "internal-only",
        ),
    ] {
        if n > 0 {
            let _ = write!(
                o,
                "<span class=\"bg-{class}\" style=\"width:{:.3}%\" title=\"{n} {what}\"></span>",
                n as f64 * 100.0 / total as f64
            );
        }
    }
    o.push_str("</div><p class=\"legend\"><span class=\"dot bg-covered\"></span>checked by a test \
                <span class=\"dot bg-client\"></span>client-only <span class=\"dot bg-internal\"></span>internal-only \
                <span class=\"dot bg-none\"></span>no test yet</p>");
    o.push_str(
        "<table><thead><tr><th style=\"width:130px\">Statement</th><th style=\"width:84px\">Level</th>\
         <th style=\"width:60px\">Actor</th><th>Summary</th><th style=\"width:34%\">Checked by</th></tr></thead><tbody>",
    );
    for chapter in sorted_chapters(&c.statements) {
        let title = catalogue
            .chapter_title(c.protocol, &chapter)
            .unwrap_or_default();
        let _ = write!(
            o,
            "<tr class=\"group\"><td colspan=\"5\">{} {}</td></tr>",
            esc(&chapter),
            esc(&title)
        );
        for s in c
            .statements
            .iter()
            .filter(|s| chapter_of(&s.statement.section) == chapter)
        {
            let st = &s.statement;
            let verdict = s.status().map(|v| v.as_str()).unwrap_or("none");
            let text = format!(
                "{} {} {} {} {}",
                st.id,
                st.summary,
                crate::coverage::level_text(st.level),
                s.tests
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                s.uncovered().map(|u| u.reason()).unwrap_or("")
            )
            .to_lowercase();
            let _ = write!(
                o,
                "<tr id=\"{}\" data-verdict=\"{verdict}\" data-text=\"{}\"><td><code>{}</code></td><td class=\"nowrap\">{}</td>\
                 <td>{}</td><td>{}</td><td>",
                esc(&statement_anchor(c.protocol, &st.id)),
                esc(&text),
                esc(&st.id),
                crate::coverage::level_text(st.level),
                actor_text(st.actor),
                esc(&st.summary)
            );
            match s.uncovered() {
                Some(u) => {
                    let _ = write!(o, "<span class=\"uncovered\">{}</span>", esc(u.reason()));
                }
                None => {
                    for t in &s.tests {
                        let _ = write!(
                            o,
                            "<div><a href=\"#{}\">{}</a> <code>{}</code></div>",
                            esc(&test_anchor(t.protocol, &t.id)),
                            badge(t),
                            esc(&t.id)
                        );
                    }
                }
            }
            o.push_str("</td></tr>");
        }
    }
    o.push_str("</tbody></table>");
    if !c.unknown.is_empty() {
        o.push_str(
            "<p class=\"note\">Statement ids named by tests but absent from the catalogue:</p><ul>",
        );
        for (id, ts) in &c.unknown {
            let names: Vec<String> = ts
                .iter()
                .map(|t| format!("<code>{}</code>", esc(&t.id)))
                .collect();
            let _ = write!(
                o,
                "<li><code>{}</code> named by {}</li>",
                esc(id),
                names.join(", ")
            );
        }
        o.push_str("</ul>");
    }
}

fn actor_text(a: crate::coverage::Actor) -> &'static str {
    match a {
        crate::coverage::Actor::Server => "server",
        crate::coverage::Actor::Client => "client",
        crate::coverage::Actor::Both => "both",
    }
}
