"""Pictures for the consoles: a client's preference graph as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on a server

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
from PIL import Image  # noqa: E402

from backend.graphs import top_preferences  # noqa: E402


def figure_image(fig) -> Image.Image:
    """A matplotlib figure as an RGB image (laid out, rendered to PNG in memory, then closed)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def preference_picture(graph: nx.DiGraph, client_label: str, n: int = 10) -> Image.Image:
    """The client's strongest likes (green) and dislikes (red) around them; edge width = |weight|.

    Args:
        graph (`nx.DiGraph`): from `backend.graphs.preference_graph`.
        client_label (`str`): the caption in the centre.
        n (`int`): most likes and most dislikes drawn.

    Returns:
        `PIL.Image.Image`
    """
    likes, dislikes = top_preferences(graph, n=n)
    liked_items = sorted(((v, d["weight"]) for _, v, d in graph.out_edges(data=True)
                          if graph.nodes[v].get("kind") == "item" and d["weight"] > 0), key=lambda e: -e[1])[:4]
    shown = nx.Graph()
    centre = client_label
    shown.add_node(centre)
    for node, weight in likes + dislikes + liked_items:
        shown.add_edge(centre, node.replace("=", ": ", 1).replace("item:", "item "), weight=weight)
    fig, ax = plt.subplots(figsize=(7.5, 5.5), dpi=100)
    if shown.number_of_edges() == 0:
        ax.text(0.5, 0.5, "No preferences known yet", ha="center", va="center", fontsize=13)
    else:
        pos = nx.spring_layout(shown, seed=3, k=1.2)
        pos[centre] = (0.0, 0.0)
        weights = [shown.edges[e]["weight"] for e in shown.edges]
        top = max(abs(w) for w in weights) or 1.0
        nx.draw_networkx_edges(shown, pos, ax=ax, width=[0.8 + 4 * abs(w) / top for w in weights],
                               edge_color=["#2e7d32" if w > 0 else "#c62828" for w in weights], alpha=0.7)
        colours = ["#37474f" if v == centre else "#c8e6c9" if shown.edges[centre, v]["weight"] > 0 else "#ffcdd2"
                   for v in shown.nodes]
        nx.draw_networkx_nodes(shown, pos, ax=ax, node_color=colours, node_size=[1400 if v == centre else 500
                                                                               for v in shown.nodes])
        nx.draw_networkx_labels(shown, pos, ax=ax, font_size=8,
                                labels={v: v for v in shown.nodes if v != centre})
        nx.draw_networkx_labels(shown, pos, ax=ax, font_size=9, font_color="white", labels={centre: centre})
    ax.set_title("Preference graph: green = likes, red = avoids (width = strength)", fontsize=10)
    ax.axis("off")
    return figure_image(fig)


CURVES = (("reward", "reward (ReRec, group mean)"), ("rerec/ndcg", "NDCG@k of the answers"),
          ("curriculum/pool", "curriculum pool (not mastered)"))


def training_curves_picture(rows: list[dict]) -> Image.Image:
    """Reward, NDCG and curriculum-pool size against the optimiser step, one line per stage that logs them.

    Args:
        rows (`list[dict]`): the lines of a run's metrics.jsonl (`training.train.read_metrics`).

    Returns:
        `PIL.Image.Image`
    """
    fig, axes = plt.subplots(1, len(CURVES), figsize=(11, 3.0), dpi=90)
    for ax, (key, title) in zip(axes, CURVES):
        stages = sorted({r.get("stage", "") for r in rows if key in r})
        for stage in stages:
            points = [(r.get("step", i), r[key]) for i, r in enumerate(rows)
                      if key in r and r.get("stage", "") == stage]
            ax.plot(*zip(*points), marker="o", markersize=3, label=stage or None)
        if not stages:
            ax.text(0.5, 0.5, "no points yet", ha="center", va="center", color="#888", transform=ax.transAxes)
        elif len(stages) > 1:
            ax.legend(fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    return figure_image(fig)
