"""A/B: evidence chosen by retrieval rank alone (model weight 0) instead of the fused vote (0.5)."""
import sys
import service.generation.select as sel
sel.MODEL_WEIGHT = 0.0
sel.fused_scores.__defaults__ = (0.0,)
from service.cli import app
sys.argv = ["newsdesk", "eval", "run", *sys.argv[1:]]
app()
