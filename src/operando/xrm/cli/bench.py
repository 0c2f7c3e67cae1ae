"""``operando xrm bench``: every condition, truth + inference + metrics -> docs/xrm/results.md."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="run the XRM study and regenerate docs/xrm/results.md",
        description="Solve the truth of every condition (0.3, 1, 2 M x C-rates), infer current, potential and "
                    "conductivity maps with the Kirchhoff MRF (exact and noisy SOC), measure them, and write "
                    "the record (JSON) and the generated results page with figures.")
    p.add_argument("--out-dir", type=Path, default=Path("runs/xrm-bench"),
                   help="where truths are solved and cached (default runs/xrm-bench)")
    p.add_argument("--record", type=Path, default=Path("benchmarks/xrm/record/bench.json"))
    p.add_argument("--results", type=Path, default=Path("docs/xrm/results.md"))
    p.add_argument("--salts", type=float, nargs="+", default=[0.3, 1.0, 2.0], help="mol/L")
    p.add_argument("--c-rates", type=float, nargs="+", default=[1.0, 2.0])
    p.add_argument("--quick", action="store_true", help="small maps (16 x 4 px, 8 frames): a smoke test")
    p.add_argument("--no-spectra", action="store_true", help="skip the rendered-spectra SOC study")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report-only", action="store_true",
                   help="regenerate the results page and figures from --record, running nothing")
    p.set_defaults(func=run)


def run(args) -> int:
    import shlex

    from operando.errors import InputError
    from operando.xrm.bench import run_bench, write_record_and_page

    if args.report_only:
        import json

        from operando.files import read_file_bytes

        try:
            record = json.loads(read_file_bytes(args.record))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(args.record, f"not a bench record (JSON): {e}") from None
        if record.get("format") != "operando.xrm.bench/1":
            raise InputError(args.record, "not an 'operando xrm bench' record (format operando.xrm.bench/1)")
        write_record_and_page(record, args.record, args.results, "operando xrm bench --report-only")
        print(f"wrote {args.results} from {args.record}")
        return 0
    if any(s <= 0 for s in args.salts) or any(c <= 0 for c in args.c_rates):
        raise InputError(None, "--salts and --c-rates must be positive")
    base = {"n_depth": 16, "n_lateral": 4, "n_frames": 8} if args.quick else {}
    extra = None
    if not args.no_spectra:
        from operando.xrm.soc_study import soc_study

        networks = {}  # one SOC network per SNR, shared by the conditions

        def extra(truth, row):
            soc_study(truth, row, seed=args.seed, quick=args.quick, networks=networks)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small dense solves: one BLAS thread per process on shared cores
        record = run_bench(args.out_dir, args.salts, args.c_rates, base=base, seed=args.seed, extra=extra)
    command = " ".join(["operando xrm bench", *(shlex.quote(a) for a in _argv_tail())])
    write_record_and_page(record, args.record, args.results, command)
    print(f"wrote {args.record} and {args.results}")
    return 0


def _argv_tail():
    import sys

    argv = sys.argv[1:]
    return argv[argv.index("bench") + 1:] if "bench" in argv else []
