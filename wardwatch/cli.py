"""The ``wardwatch`` command. Thin: every command parses flags and calls one function elsewhere.

Heavy imports (Faust, TensorFlow, spaCy) happen inside the commands that need them.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="WardWatch: streaming real-time patient monitoring.", no_args_is_help=True)
services_app = typer.Typer(help="Local Kafka and InfluxDB on loopback.", no_args_is_help=True)
train_app = typer.Typer(help="Rebuild a trained model deterministically.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a model on data in its source format.", no_args_is_help=True)
replay_app = typer.Typer(help="Replay recorded data as live bedside feeds.", no_args_is_help=True)
batch_app = typer.Typer(help="Side-topic batch jobs: image, genomic, notes.", no_args_is_help=True)
alerts_app = typer.Typer(help="Follow and act on alerts.", no_args_is_help=True)
calibrate_app = typer.Typer(help="Fit a model's calibration and alert threshold to a site's own "
                            "labelled data.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(replay_app, name="replay")
app.add_typer(batch_app, name="batch")
app.add_typer(alerts_app, name="alerts")
app.add_typer(calibrate_app, name="calibrate")

console = Console()


def _settings():
    from wardwatch.settings import get_settings

    return get_settings()


# --------------------------------------------------------------------------- services
@services_app.command("up")
def services_up() -> None:
    """Start Kafka and InfluxDB (fetching/building them once into the cache) and wait for health."""
    from wardwatch.services import stack

    with console.status("starting Kafka and InfluxDB (first run fetches and builds them)"):
        result = stack.up(_settings())
    for name, what in result.items():
        console.print(f"[green]{name}[/]: {what}")


@services_app.command("down")
def services_down() -> None:
    """Stop exactly the processes that ``services up`` started."""
    from wardwatch.services import stack

    for name, stopped in stack.down(_settings()).items():
        console.print(f"{name}: {'stopped' if stopped else 'was not running'}")


@services_app.command("status")
def services_status(json_out: bool = typer.Option(False, "--json")) -> None:
    """Show pid, health and endpoint of each service."""
    from wardwatch.services import stack

    rows = stack.status(_settings())
    if json_out:
        print(json.dumps([r.__dict__ for r in rows]))
        raise typer.Exit(0 if all(r.healthy for r in rows) else 1)
    t = Table("service", "pid", "healthy", "endpoint")
    for r in rows:
        t.add_row(r.name, str(r.pid or "-"), "[green]yes[/]" if r.healthy else "[red]no[/]", r.endpoint)
    console.print(t)
    raise typer.Exit(0 if all(r.healthy for r in rows) else 1)


# --------------------------------------------------------------------------- stream worker
@app.command()
def worker(log_level: str = typer.Option("info", "--log-level")) -> None:
    """Run the Faust stream worker (all stream agents); scale out by starting more."""
    from streams.worker import run

    run(log_level)


# --------------------------------------------------------------------------- vitals / NEWS2
@app.command()
def news2(
    rr: float = typer.Option(..., "--rr", help="respiration rate, breaths/min"),
    spo2: float = typer.Option(..., "--spo2", help="SpO2, percent"),
    scale: int = typer.Option(1, "--scale", help="SpO2 scale: 1, or 2 for hypercapnic respiratory failure"),
    o2: str = typer.Option(..., "--o2", help="air or oxygen"),
    sbp: float = typer.Option(..., "--sbp", help="systolic BP, mmHg"),
    hr: float = typer.Option(..., "--hr", help="pulse, beats/min"),
    acvpu: str = typer.Option(..., "--acvpu", help="A, C, V, P or U"),
    temp: float = typer.Option(..., "--temp", help="temperature, degrees Celsius"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Score one set of observations with NEWS2 (RCP 2017)."""
    from models.vitals.news2 import news2_score

    if o2 not in ("air", "oxygen"):
        raise typer.BadParameter("--o2 must be 'air' or 'oxygen'")
    try:
        r = news2_score(rr_bpm=rr, spo2_pct=spo2, spo2_scale=scale, on_oxygen=o2 == "oxygen",
                        sbp_mmhg=sbp, hr_bpm=hr, acvpu=acvpu.upper(), temp_c=temp)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    out = {"score": r.score, "band": r.band, "risk": r.risk, "components": r.components,
           "single_param_3": r.single_param_3, "response": r.response}
    if json_out:
        print(json.dumps(out))
        return
    t = Table("parameter", "points")
    for k, v in r.components.items():
        t.add_row(k, str(v))
    console.print(t)
    console.print(f"NEWS2 [bold]{r.score}[/] (band {r.band}, {r.risk} risk)\n{r.response}")


@app.command()
def simulate(
    beds: int = typer.Option(24, "--beds", min=1),
    duration: float = typer.Option(60.0, "--duration", help="wall-clock seconds"),
    speed: float = typer.Option(1.0, "--speed", help="device seconds per wall second"),
    seed: int = typer.Option(7, "--seed"),
    fast: bool = typer.Option(False, "--fast", help="do not wait between ticks"),
) -> None:
    """Produce a simulated ward's vitals to Kafka (stable, sepsis, hypoxia, bradycardia)."""
    from rich.progress import Progress

    from simulators.vitals import run_vitals_feed, ward_plan

    patients = ward_plan(beds, seed=seed)
    with Progress(console=console) as progress:
        task = progress.add_task("producing vitals", total=duration)
        sent = run_vitals_feed(patients, duration_s=duration, speed=speed, seed=seed,
                               realtime=not fast,
                               on_tick=lambda wall, _: progress.update(task, completed=wall))
    console.print(f"sent {sent} readings for {beds} beds")


@app.command()
def demo(
    beds: int = typer.Option(24, "--beds", min=1),
    duration: float = typer.Option(60.0, "--duration", help="wall-clock seconds of simulation"),
    speed: float = typer.Option(30.0, "--speed", help="device seconds per wall second"),
    seed: int = typer.Option(7, "--seed"),
) -> None:
    """The main job: services up, stream worker, a simulated ward, live view, summary."""
    from wardwatch.demo import run_demo

    summary = run_demo(_settings(), beds=beds, duration_s=duration, speed=speed, seed=seed,
                       console=console)
    t = Table("summary", "value", title="WardWatch demo summary")
    for k, v in summary.items():
        t.add_row(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v))
    console.print(t)
    s = _settings()
    console.print(
        f"Data in InfluxDB at {s.influx_url}, bucket [bold]{s.influx_bucket}[/]; e.g.\n"
        f'  from(bucket: "{s.influx_bucket}") |> range(start: -2h) '
        f'|> filter(fn: (r) => r._measurement == "news2" and r._field == "score")\n'
        "Services keep running for queries: `wardwatch services down` stops them.")
    if summary["vitals_points"] == 0:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- alerts
@alerts_app.command("tail")
def alerts_tail(
    from_beginning: bool = typer.Option(False, "--from-beginning"),
    json_out: bool = typer.Option(False, "--json", help="one JSON event per line"),
    seconds: float = typer.Option(0, "--seconds", help="stop after this long with nothing new (0: never)"),
) -> None:
    """Follow alert events as a subscriber would."""
    from wardwatch import topics
    from wardwatch.kafka_io import consume

    for _, _, ev in consume([topics.ALERTS], from_beginning=from_beginning,
                            timeout_s=seconds or 10 ** 9):
        if not isinstance(ev, dict):
            continue
        if json_out:
            print(json.dumps(ev), flush=True)
        else:
            console.print(f"{ev['ts']} bed {ev['bed']} [bold]{ev['type']}[/] {ev['priority']} "
                          f"{ev['source']} {ev['alert_id']}: {ev['message'][:100]}")


@alerts_app.command("ack")
def alerts_ack(
    patient_id: str = typer.Argument(...),
    alert_id: str = typer.Argument(...),
    by: str = typer.Option(..., "--by", help="who acknowledges (user id)"),
    silence: float = typer.Option(0, "--silence", help="silence for N seconds instead of acknowledging"),
) -> None:
    """Acknowledge (or silence) an alert; the alert component publishes the resulting events."""
    from wardwatch import topics
    from wardwatch.kafka_io import make_producer, send

    action = {"patient_id": patient_id, "alert_id": alert_id, "by": by,
              "action": "silence" if silence else "acknowledge"}
    if silence:
        action["duration_s"] = silence
    p = make_producer()
    send(p, topics.ALERTS_ACK, patient_id, action).get(timeout=30)
    p.close()
    console.print(f"{action['action']} sent for {alert_id}")


# --------------------------------------------------------------------------- batch jobs
_BATCH_KINDS = ("image", "genomic", "notes")


def _batch_kind(kind: str) -> str:
    if kind not in _BATCH_KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(_BATCH_KINDS)}")
    return kind


@batch_app.command("worker")
def batch_worker(
    kind: str = typer.Argument(..., help="image | genomic | notes", callback=_batch_kind),
    max_jobs: int | None = typer.Option(None, "--max-jobs", help="exit after N records"),
    idle_exit: float | None = typer.Option(None, "--idle-exit", help="exit after S idle seconds"),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run a batch worker: jobs.KIND -> results.KIND (failures -> deadletter)."""
    from batch.worker import run_worker

    run_worker(kind, max_jobs=max_jobs, idle_exit_s=idle_exit, log_level=log_level)


@batch_app.command("submit")
def batch_submit(
    kind: str = typer.Argument(..., help="image | genomic | notes", callback=_batch_kind),
    paths: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    wait: bool = typer.Option(False, "--wait", help="wait for the results and print them (JSON)"),
    timeout: float = typer.Option(300.0, "--timeout", help="seconds to wait with --wait"),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE job parameter (repeatable)"),
) -> None:
    """Submit files as jobs (job id = kind + content hash: resubmitting is the same job)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from batch.client import submit_files, wait_results

    params: dict[str, str] = {}
    for kv in param:
        k, sep, v = kv.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param wants KEY=VALUE, got {kv!r}")
        params[k] = v
    err = Console(stderr=True)
    sent = submit_files(kind, paths, params)
    for m in sent:
        err.print(f"submitted [bold]{m['job_id']}[/] ({m['filename']}, {m['size_bytes']} bytes)")
    if not wait:
        print(json.dumps([{"job_id": m["job_id"], "filename": m["filename"]} for m in sent]))
        return
    ids = list(dict.fromkeys(m["job_id"] for m in sent))
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(f"{kind} jobs", total=len(ids))
        found = wait_results(kind, ids, timeout_s=timeout,
                             on_result=lambda r: bar.advance(task))
    print(json.dumps([found[i] for i in ids if i in found], indent=2))
    missing = [i for i in ids if i not in found]
    if missing:
        err.print(f"[red]no result within {timeout:.0f} s for:[/] {', '.join(missing)}")
        raise typer.Exit(2)
    if any(found[i].get("status") != "ok" for i in ids):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- genomic
@train_app.command("genomic")
def train_genomic(
    expression: Path | None = typer.Option(None, "--expression",
                                           help="Golub-format CSV (default: shared training set)"),
    labels: Path | None = typer.Option(None, "--labels", help="patient,cancer CSV"),
    out: Path | None = typer.Option(None, "--out", help="output folder (default models/genomic)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the ALL/AML expression classifier (Golub 1999 training set); print CV metrics."""
    from batch.genomic import train as gt

    m = gt.genomic_train(expression or gt.DEFAULT_EXPRESSION, labels or gt.DEFAULT_LABELS,
                         out or gt.MODEL_DIR, seed=seed)
    print(json.dumps({k: v for k, v in m.items() if k != "selected_probes"}, indent=2))


@eval_app.command("genomic")
def eval_genomic(
    expression: Path = typer.Option(..., "--expression", exists=True, dir_okay=False),
    labels: Path = typer.Option(..., "--labels", exists=True, dir_okay=False),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Accuracy and confusion of the committed classifier on Golub-format data."""
    from batch.genomic.evaluate import genomic_evaluate

    r = genomic_evaluate(expression, labels, model_dir)
    if json_out:
        print(json.dumps(r))
        return
    console.print(f"accuracy {r['accuracy']:.3f} (n = {r['n']}); confusion "
                  f"{r['confusion']['labels']} {r['confusion']['matrix']}")


# --------------------------------------------------------------------------- ECG feeds
@replay_app.command("ecg")
def replay_ecg_cmd(
    records: Path = typer.Option(..., "--records", exists=True, file_okay=False,
                                 help="folder of WFDB records (.hea/.dat), e.g. MIT-BIH"),
    speed: float = typer.Option(1.0, "--speed", help="1 = real time; 0 = as fast as possible"),
    beds: int | None = typer.Option(None, "--beds", min=1, help="beds (default: one per record)"),
    seconds: float | None = typer.Option(None, "--seconds", help="seconds of each record"),
    start: float = typer.Option(0.0, "--start", help="start this many seconds into each record"),
    only: str | None = typer.Option(None, "--only", help="comma-separated record names"),
    prefix: str = typer.Option("MITDB", "--prefix", help="patient id prefix"),
) -> None:
    """Replay WFDB records as live bedside ECG feeds (1 s chunks) on the ``ecg`` topic."""
    from simulators.ecg_replay import replay_ecg

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    stats = replay_ecg(records, speed=speed, beds=beds, seconds=seconds, start_s=start,
                       only=names, prefix=prefix)
    print(json.dumps(stats.__dict__))


@replay_app.command("ecg-synth")
def replay_ecg_synth_cmd(
    beds: int = typer.Option(8, "--beds", min=1),
    seconds: float = typer.Option(120.0, "--seconds", help="seconds of signal per bed"),
    speed: float = typer.Option(1.0, "--speed", help="1 = real time; 0 = as fast as possible"),
    scenarios: str | None = typer.Option(
        None, "--scenarios", help="comma-separated: sinus,vrun,pause,af,leads_off,noise,brady,tachy,vf"),
    seed: int = typer.Option(0, "--seed"),
    fs: float = typer.Option(360.0, "--fs"),
    prefix: str = typer.Option("SYN", "--prefix", help="patient id prefix"),
    leads: int = typer.Option(2, "--leads", min=1, max=2, help="2: lead II + V1; 1: lead II only"),
) -> None:
    """Synthetic ECG feeds with injected events (VT run, pause, AF, leads off, noise)."""
    from simulators.ecg_feed import play
    from simulators.ecg_synth import synth_beds

    names = [n.strip() for n in scenarios.split(",") if n.strip()] if scenarios else None
    feeds = synth_beds(beds, duration_s=seconds, fs=fs, seed=seed, scenarios=names, prefix=prefix,
                       leads=leads)
    print(json.dumps(play(feeds, speed=speed).__dict__))


# --------------------------------------------------------------------------- notes
@eval_app.command("notes")
def eval_notes(
    tsv: Path = typer.Option(..., "--tsv", exists=True, dir_okay=False,
                             help="NegEx test-set format: Report No., Concept, Sentence, Negation"),
    reports: str = typer.Option("all", "--reports", help="all | dev (1-30) | heldout (31-60)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Negation precision/recall/F1 of the notes ConText rules on a NegEx-format file."""
    from batch.notes.negex_eval import negex_evaluate

    r = negex_evaluate(tsv, reports)
    if json_out:
        print(json.dumps(r))
        return
    n = r["negated"]
    console.print(f"negated P {n['precision']:.3f} R {n['recall']:.3f} F1 {n['f1']:.3f}; "
                  f"accuracy {r['accuracy']:.3f} (n = {r['n']}, reports {reports})")


# --------------------------------------------------------------------------- ECG beat model
@train_app.command("ecg")
def train_ecg(
    out: Path | None = typer.Option(None, "--out", help="artifact folder (default models/ecg/artifacts)"),
    seeds: str | None = typer.Option(None, "--seeds",
                                     help="comma-separated seeds, one network each (several: an "
                                          "averaged ensemble); default the shipped recipe's "
                                          "(7,11,13,17,19: a five-network ensemble)"),
    records: Path | None = typer.Option(None, "--records",
                                        help="DS1 WFDB records (default ../shared/data/mitdb-ds1)"),
    folds: int = typer.Option(4, "--folds",
                              help="leave-records-out folds for the held-out estimate (0: none)"),
    leads: int = typer.Option(1, "--leads", min=1, max=2,
                              help="1: single-lead model; 2: two-lead model (first + second lead)"),
) -> None:
    """Rebuild the ECG beat CNN (DS1 only, record-wise CV) and export it to TFLite."""
    from models.ecg.train import DEFAULT_OUT, train

    seed_list = [int(x) for x in seeds.split(",") if x.strip()] if seeds else None
    m = train(out or DEFAULT_OUT, seeds=seed_list, records_dir=records, folds=folds, leads=leads)
    summary = {"model": m["model"]["version"], "beats": m["beats"]}
    if "cv" in m:
        summary["cv_pooled"] = {k: m["cv"]["pooled"][k] for k in ("veb", "sveb")}
    print(json.dumps(summary, indent=2))


@eval_app.command("ecg")
def eval_ecg(
    records: Path = typer.Option(..., "--records", exists=True, file_okay=False,
                                 help="folder of WFDB records with .atr"),
    json_out: bool = typer.Option(False, "--json"),
    write_annotations: Path | None = typer.Option(None, "--write-annotations",
                                                  help="write <record>.wwd here"),
    model: Path | None = typer.Option(None, "--model",
                                      help="a single-lead TFLite model to evaluate alone "
                                           "(default: the committed single- and two-lead models)"),
    leads: int = typer.Option(2, "--leads", min=1, max=2,
                              help="2: also stream a record's second lead (two-lead model); 1: first only"),
    resample: float | None = typer.Option(None, "--resample", metavar="HZ",
                                          help="resample each record to HZ first (e.g. 250, 500, "
                                               "125: a bedside monitor's rate); default: the file's"),
) -> None:
    """AAMI EC57 QRS/VEB/SVEB statistics of the streaming detector + classifier on WFDB records."""
    from models.ecg.evaluate import evaluate_records

    if resample is not None and not 0 < resample < float("inf"):
        raise typer.BadParameter(f"must be a positive rate in Hz, got {resample:g}",
                                 param_hint="--resample")
    r = evaluate_records(records, write_annotations_dir=write_annotations, model_path=model,
                         leads=leads, resample_hz=resample)
    if json_out:
        print(json.dumps(r))
        return
    for k in ("qrs", "veb", "sveb"):
        c = r[k]
        console.print(f"{k.upper():5s} Se {c['se']} %  +P {c['ppv']} %  "
                      f"(tp {c['tp']}, fn {c['fn']}, fp {c['fp']})")


# --------------------------------------------------------------------------- deterioration model
@train_app.command("deterioration")
def train_deterioration(
    data: Path | None = typer.Option(None, "--data", help="set A tarball (default: shared data)"),
    out: Path | None = typer.Option(None, "--out", help="artifact folder (default: committed)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Logistic deterioration model on PhysioNet 2019 set A: artifacts, metrics, model card."""
    from models.deterioration.card import write_card
    from models.deterioration.model import ARTIFACT_DIR
    from models.deterioration.train import DEFAULT_TAR, train

    res = train(data or DEFAULT_TAR, out or ARTIFACT_DIR, seed=seed)
    write_card(res)
    for fs in ("vitals", "full"):
        t = res[fs]["test"]
        console.print(f"{fs}: test AUROC {t['auroc']} AUPRC {t['auprc']} utility {t['utility']} "
                      f"(NEWS2 AUROC {t['news2_auroc']}, qSOFA {t['qsofa_auroc']})")


@eval_app.command("deterioration")
def eval_deterioration(
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False, help=".psv folder"),
    json_out: bool = typer.Option(False, "--json"),
    predictions: Path | None = typer.Option(None, "--predictions", help="write <record>.psv here"),
    model: Path | None = typer.Option(None, "--model", help="artifact JSON (default: deployed)"),
) -> None:
    """AUROC, AUPRC, utility, NEWS2 / qSOFA AUROC of the deterioration model on challenge files."""
    from rich.progress import Progress

    from models.deterioration.evaluate import evaluate_dir
    from models.deterioration.model import load_model

    n = len(list(data.glob("*.psv")))
    with Progress(console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task("patients", total=n)
        r = evaluate_dir(data, load_model(str(model) if model else None), predictions,
                         progress=lambda: prog.advance(task))
    for w in r["warnings"]:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {w}")
    if json_out:
        print(json.dumps(r))
        return
    for k, v in r.items():
        if k != "warnings":
            console.print(f"{k}: {v}")


@calibrate_app.command("deterioration")
def calibrate_deterioration(
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False,
                              help=".psv folder of the site's patients, with SepsisLabel"),
    out: Path = typer.Option(..., "--out", help="where to write the site artifact (JSON)"),
    model: Path | None = typer.Option(None, "--model", help="artifact JSON (default: deployed)"),
    holdout: float | None = typer.Option(None, "--holdout", min=0.0, max=0.9,
                                         help="share of patients held out of the fit, for the "
                                         "report (default 0.3)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Refit the Platt step and alert threshold on a site's patients; same coefficients.

    Use the result with WARDWATCH_DETERIORATION_MODEL=<out>.
    """
    from rich.progress import Progress

    from models.deterioration.dataset import build, iter_dir
    from models.deterioration.model import load_model, save_model
    from models.deterioration.site import HOLDOUT, calibrate_site

    base = load_model(str(model) if model else None)
    n = len(list(data.glob("*.psv")))
    with Progress(console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task("patients", total=n)
        pms = build(iter_dir(data), base.feature_set, lambda: prog.advance(task))
    try:
        site, report = calibrate_site(base, pms, HOLDOUT if holdout is None else holdout)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    save_model(site, out)
    report["out"] = str(out)
    if json_out:
        print(json.dumps(report))
        return
    fit, held = report["fit"], report["holdout"]
    console.print(f"{site.version} written to {out}\nfit on {fit['patients']} patients "
                  f"({fit['septic_patients']} septic): Platt step a {base.calib_a:.3f} -> "
                  f"{site.calib_a:.3f}, b {base.calib_b:.3f} -> {site.calib_b:.3f}; alert "
                  f"threshold {base.threshold} -> {site.threshold} (calibrated probability)")
    if held:
        table = Table(title=f"{held['site']['patients']} held-out patients "
                            f"({held['site']['septic_patients']} septic)")
        table.add_column("")
        for tag in held:
            table.add_column(tag, justify="right")
        for f in held["site"]["utility_by_prevalence"]:
            label = "this site's" if float(f) == 1.0 else f"{f} x this site's"
            table.add_row(f"utility at {label} prevalence",
                          *[str(h["utility_by_prevalence"][f]) for h in held.values()])
        for key, label in (("flagged_septic_pct", "septic patients alerted, %"),
                           ("flagged_non_septic_pct", "non-septic patients alerted, %")):
            table.add_row(label, *[str(h[key]) for h in held.values()])
        console.print(table)
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"use it: WARDWATCH_DETERIORATION_MODEL={out}")


@replay_app.command("trajectories")
def replay_trajectories(
    beds: int = typer.Option(4, "--beds", min=1, help="patients (the demo septic one first)"),
    hours: float = typer.Option(12.0, "--hours", help="hours of each record, ending now"),
    step_s: float = typer.Option(60.0, "--step-s", help="device seconds between readings (1 = 1 Hz)"),
    rate: float = typer.Option(0.0, "--rate", help="readings per wall second (0: as fast as possible)"),
    septic_only: bool = typer.Option(False, "--septic-only"),
    labs: bool = typer.Option(True, "--labs/--no-labs",
                              help="also send each record's admission and lab results"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Replay real PhysioNet 2019 set A trajectories (septic and not) as bedside vitals, with
    their lab results (``labs``) and admissions (``admissions``) for the full model."""
    from simulators.trajectories import DEMO_SEPTIC, load_trajectories, run_trajectory_feed

    trajs = load_trajectories(septic=True if septic_only else None)
    trajs.sort(key=lambda t: t.record != DEMO_SEPTIC)
    sent = run_trajectory_feed(trajs[:beds], hours=hours, step_s=step_s, rate=rate, seed=seed,
                               labs=labs)
    console.print(f"sent {sent} for {min(beds, len(trajs))} patients")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
