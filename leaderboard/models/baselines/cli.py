"""``litraj baseline train``, ``predict``, ``importance`` and ``select`` (forward selection, Fig. 1g)."""
from __future__ import annotations

import argparse
from typing import Any

from litraj_data.cli.options import add_cache_dir_option, add_json_option, add_out_option, add_source_option
from litraj_data.cli.output import emit, fail
from litraj_data.errors import LitrajError
from litraj_data.lazy import lazy_from
from litraj_data.leaderboard.models.baselines.models import FEATURES, GRIDS, model_names

# the training code (pandas, scikit-learn) is imported when a command runs, not for --help
_TRAIN = "litraj_data.leaderboard.models.baselines.train"

__all__ = ["register"]


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    emit(args, [record], text, indent=2)


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        info = lazy_from(_TRAIN, "train_baseline")(args.task, args.model, args.out, features=args.features, tl=args.tl,
                              source=args.source, seed=args.seed, cache_dir=args.cache_dir, jobs=args.jobs,
                              grid=args.grid, progress=True)
    except (LitrajError, ValueError) as exc:
        return fail(args, args.out, exc, code=2)  # named reason on stderr, the error record with --json
    _emit(args, {"file": args.out, **{k: v for k, v in info.items() if k != "features"}},
          f"{info['label']} on {info['task']}: CV MAE {info['cv_mae']:.4f} ({info['cv_folds']} folds, "
          f"{info['n_train']} rows, {len(info['features'])} features), best {info['best_params']}; "
          f"saved in {args.out}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    try:
        res = lazy_from(_TRAIN, "predict_baseline")(args.model_dir, args.out, source=args.source, split=args.split,
                               cache_dir=args.cache_dir, jobs=args.jobs, trust=args.trust, progress=True)
    except (LitrajError, ValueError, OSError) as exc:
        return fail(args, args.model_dir, exc, code=2)  # named reason on stderr, the error record with --json
    _emit(args, res, f"wrote {res['n']} predictions for {res['task']} to {res['file']} "
          f"(metadata {res['metadata']})")
    return 0


def _cmd_importance(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.models.baselines.importance import model_importances, plot_importances

    try:
        res = model_importances(args.model_dir, source=args.source, split=args.split, cache_dir=args.cache_dir,
                                trust=args.trust, repeats=args.repeats, max_features=args.max_features,
                                jobs=args.jobs, seed=args.seed)
        if args.plot:
            res["plot"] = plot_importances(res, args.plot, title=f"{res['label']} on {res['task']}")
    except (LitrajError, ValueError, OSError) as exc:
        return fail(args, args.model_dir, exc, code=2)  # named reason on stderr, the error record with --json
    top = args.top
    lines = [f"{res['label']} on {res['task']} ({res['n_train']} training rows, {res['n_eval']} held out)",
             f"impurity ({res['impurity_source']}):"]
    lines += [f"  {i['feature']:<60} {i['importance']:.4f}" for i in res["impurity"][:top]]
    lines.append("permutation (MAE increase, eV):")
    lines += [f"  {i['feature']:<60} {i['importance']:.4f} +- {i['std']:.4f}" for i in res["permutation"][:top]]
    lines.append("KNN CV MAE on the impurity ranking's top-n (greedy forward selection: `baseline select`): "
                 + ", ".join(f"{c['n_features']}:{c['cv_mae']:.3f}" for c in res["impurity_order_curve"]))
    if args.plot:
        lines.append(f"plot: {args.plot}")
    _emit(args, {"file": args.model_dir, **res}, "\n".join(lines))
    return 0


def _cmd_select(args: argparse.Namespace) -> int:
    from litraj_data.leaderboard.models.baselines.importance import model_forward_selection, plot_forward_selection

    try:
        res = model_forward_selection(args.model_dir, source=args.source, split=args.split, cache_dir=args.cache_dir,
                                      max_features=args.max_features, n_neighbors=args.neighbors,
                                      tolerance=args.tolerance, jobs=args.jobs, seed=args.seed, progress=True)
        if args.plot:
            res["plot"] = plot_forward_selection(res, args.plot, title=f"{res['label']} features, {res['task']}")
    except (LitrajError, ValueError, OSError) as exc:
        return fail(args, args.model_dir, exc, code=2)  # named reason on stderr, the error record with --json
    r, a = res["refit"], res["all_features"]
    lines = [f"greedy forward selection on {res['task']} ({res['feature_set']} features, {res['n_candidates']} "
             f"candidates, {res['n_train']} training rows, {res['folds']} folds grouped by material_id), "
             f"{res['estimator']}, scoring {res['scoring']}",
             "n  CV RMSE  CV MAE  added"]
    lines += [f"{c['n_features']:<3}{c['cv_rmse']:7.4f}  {c['cv_mae']:6.4f}  {c['feature']}" for c in res["curve"]]
    lines.append(f"selected {res['n_selected']} features; refit on {res['eval_split']} ({r['n']} rows): MAE "
                 f"{r['mae']:.4f}, RMSE {r['rmse']:.4f}, R2 {r['r2']:.4f} (all {res['n_candidates']} features: "
                 f"MAE {a['mae']:.4f}, RMSE {a['rmse']:.4f}, R2 {a['r2']:.4f})")
    if args.plot:
        lines.append(f"plot: {args.plot}")
    _emit(args, {"file": args.model_dir, **res}, "\n".join(lines))
    return 0


def register(subparsers: Any) -> None:
    """Add ``baseline train``, ``baseline predict`` and ``baseline importance`` to the ``litraj`` command."""
    p = subparsers.add_parser("baseline", help="classical baselines on the paper's feature sets")
    sub = p.add_subparsers(dest="baseline_command", required=True)
    tr = sub.add_parser("train", help="grid-search a regressor on train+val of a task (grouped 5-fold CV)")
    tr.add_argument("--task", required=True, help="scalar task, e.g. BVEL13k/E_1D, nebDFT2k/em")
    tr.add_argument("--model", default="rf", choices=model_names())
    tr.add_argument("--features", default="voronoi", choices=FEATURES,
                    help="voronoi: the paper's SI S1 set (-v); ward: Ward et al. 2017 via matminer (-w); both")
    tr.add_argument("--tl", action="store_true", help="add the BVSE barrier as a feature (-tl variant)")
    tr.add_argument("--grid", default="paper", choices=GRIDS, help="hyperparameter grid (small: for quick looks)")
    add_source_option(tr)
    add_cache_dir_option(tr, "datasets and features")
    add_out_option(tr, "model folder", required=True)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--jobs", type=int, default=1, help="featurisation worker processes")
    add_json_option(tr)
    tr.set_defaults(func=_cmd_train)
    pr = sub.add_parser("predict", help="predict the task's split and write a submission")
    pr.add_argument("--model-dir", required=True, help="folder written by `baseline train`")
    add_source_option(pr)
    add_cache_dir_option(pr, "datasets and features")
    pr.add_argument("--split", help="split to predict (default: the task's)")
    add_out_option(pr, "predictions file (.csv or .parquet)", required=True)
    pr.add_argument("--trust", action="store_true",
                    help="load a model file that needs untrusted types or is a legacy pickle (can run code: "
                         "only for a folder you made yourself)")
    pr.add_argument("--jobs", type=int, default=1, help="featurisation worker processes")
    add_json_option(pr)
    pr.set_defaults(func=_cmd_predict)
    im = sub.add_parser("importance", help="impurity and permutation importances, KNN forward selection (Fig. 1g)")
    im.add_argument("--model-dir", required=True, help="folder written by `baseline train`")
    add_source_option(im, "the held-out split's dataset")
    add_cache_dir_option(im, "datasets and features")
    im.add_argument("--split", help="held-out split for permutation importance (default: the task's)")
    im.add_argument("--repeats", type=int, default=5, help="permutations per feature")
    im.add_argument("--max-features", type=int, default=30, help="longest forward-selection prefix")
    im.add_argument("--top", type=int, default=15, help="features listed per ranking in the text output")
    im.add_argument("--plot", help="figure file (.png, .pdf, .svg)")
    im.add_argument("--trust", action="store_true", help="as for predict")
    im.add_argument("--jobs", type=int, default=1)
    im.add_argument("--seed", type=int, default=0)
    add_json_option(im)
    im.set_defaults(func=_cmd_importance)
    se = sub.add_parser("select", help="greedy forward selection with KNN on negative MSE, refit and scored (Fig. 1g)",
                        description="Add one feature at a time, the one that lowers the grouped-CV MSE of a scaled "
                                    "KNN most, on the training matrix of a `baseline train` folder; record the curve, "
                                    "refit the chosen subset and score it on the held-out split.")
    se.add_argument("--model-dir", required=True, help="folder written by `baseline train` (its training matrix)")
    se.add_argument("--source", help="dataset source of the held-out split, as load_litraj(source=)")
    se.add_argument("--cache-dir", help="dataset and feature cache folder")
    se.add_argument("--split", help="held-out split the refit is scored on (default: the task's)")
    se.add_argument("--max-features", type=int, default=40, help="length of the selection curve (default 40)")
    se.add_argument("--neighbors", type=int, default=5, help="k of the KNN regressor (default 5)")
    se.add_argument("--tolerance", type=float, default=0.0,
                    help="choose the fewest features whose CV MSE is within (1 + TOL) of the curve's lowest")
    se.add_argument("--plot", help="figure file of the curve (.png, .pdf, .svg)")
    se.add_argument("--jobs", type=int, default=1,
                    help="featurisation processes and threads over the candidates of a step")
    se.add_argument("--seed", type=int, default=0)
    add_json_option(se)
    se.set_defaults(func=_cmd_select)
