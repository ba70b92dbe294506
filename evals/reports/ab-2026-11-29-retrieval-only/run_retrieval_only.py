"""A/B variant: the writer's evidence chosen by retrieval rank alone (the model's vote at weight 0
instead of 0.5); everything else as in production.  Arguments are those of ``newsdesk eval run``."""

import sys

import service.generation.select as select


def main() -> None:
    select.MODEL_WEIGHT = 0.0
    select.fused_scores.__defaults__ = (0.0,)  # the default is bound when the function is defined
    from service.cli import app

    sys.argv = ["newsdesk", "eval", "run", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
