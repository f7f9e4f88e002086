#!/usr/bin/env python3
"""Draws docs/data-flow.svg, the README's picture of the data flow, from the boxes and arrows
below. Edit them here and run `python3 docs/diagram/data_flow.py > docs/data-flow.svg`;
infra/check_docs.py (in the test command) fails when the drawing and this source disagree.
"""

from html import escape

WIDTH, HEIGHT = 990, 570

# id: (x, y, width, height, lines, kind) — kind picks the colours below.
BOXES = {
    "ccai": (20, 60, 160, 100, ["CCAI Platform", "calls, chats, agents", "(Manager API)"], "platform"),
    "gcs": (20, 240, 160, 80, ["tenant's bucket", "recordings, transcripts,", "metadata, media"], "platform"),
    "browser": (20, 420, 160, 80, ["agent's Kustomer tab", "the bridge's widget"], "people"),
    "api": (260, 60, 110, 430, ["API Gateway", "+ AWS WAF"], "aws"),
    "admin": (260, 505, 110, 30, ["bridge-admin"], "function"),
    "intake": (410, 60, 150, 50, ["bridge-intake", "each event once"], "function"),
    "table": (410, 170, 150, 60, ["DynamoDB table", "inbox, sessions, agents"], "store"),
    "reconcile": (410, 290, 150, 60, ["bridge-reconcile", "each minute: poll, look"], "function"),
    "status": (410, 430, 150, 60, ["bridge-status", "sign-in, status, calls"], "function"),
    "sync": (610, 170, 170, 60, ["bridge-sync", "one reconcile per session"], "function"),
    "queues": (610, 280, 170, 50, ["SQS queues", "recording, transcript"], "aws"),
    "files": (610, 380, 170, 60, ["bridge-recording", "bridge-transcript"], "function"),
    "s3": (610, 480, 170, 50, ["S3 files bucket"], "store"),
    "kustomer": (850, 60, 120, 470, ["Kustomer", "customers,", "conversations,", "messages, notes,", "attachments,", "work sessions,", "OAuth sign-in"], "platform"),
}

# (points, label, label position): a polyline ending in an arrow head.
ARROWS = [
    ([(180, 110), (260, 110)], "events (ESE)", (220, 104)),
    ([(180, 280), (260, 280)], "pushes", (220, 274)),
    ([(180, 460), (260, 460)], "agents", (220, 454)),
    ([(370, 85), (410, 85)], "", None),
    ([(370, 460), (410, 460)], "", None),
    ([(315, 490), (315, 505)], "", None),
    ([(485, 110), (485, 170)], "inbox", (510, 145)),
    ([(485, 290), (485, 230)], "", None),
    ([(560, 200), (610, 200)], "stream", (585, 194)),
    ([(695, 230), (695, 280)], "file work", (730, 260)),
    ([(695, 330), (695, 380)], "", None),
    ([(695, 440), (695, 480)], "copies", (722, 478)),
    ([(780, 190), (850, 190)], "sessions", (815, 184)),
    ([(780, 410), (850, 410)], "files", (815, 404)),
    ([(560, 465), (850, 465)], "work sessions", (805, 459)),
    ([(695, 170), (695, 40), (100, 40), (100, 60)], "the Manager API: sessions, agents, statuses, calls", (400, 34)),
    ([(610, 425), (590, 425), (590, 548), (205, 548), (205, 300), (180, 300)], "files read", (400, 543)),
]
COLOURS = {
    "platform": ("#fff4e0", "#c27c0e"),
    "people": ("#f1eafa", "#7a4fb5"),
    "aws": ("#eef3fb", "#4a6fa5"),
    "function": ("#e8f5ec", "#2e7d4f"),
    "store": ("#f4f4f4", "#666666"),
}


def draw() -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 20}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT + 20}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        "<title>ccai-kustomer-bridge: the data flow</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT + 20}" fill="#ffffff"/>',
        '<rect x="240" y="24" width="570" height="534" rx="10" fill="none" stroke="#4a6fa5" '
        'stroke-dasharray="6 4"/>',
        '<text x="250" y="16" fill="#4a6fa5" font-weight="bold">the tenant\'s AWS account (template.yaml)</text>',
    ]
    for points, label, at in ARROWS:
        path = " ".join(f"{x},{y}" for x, y in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="#444" stroke-width="1.3" '
            'marker-end="url(#arrow)"/>'
        )
        if label:
            out.append(
                f'<text x="{at[0]}" y="{at[1]}" text-anchor="middle" fill="#222" font-size="11" '
                f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(label)}</text>'
            )
    for name, (x, y, w, h, lines, kind) in BOXES.items():
        fill, stroke = COLOURS[kind]
        out.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
        top = y + h / 2 - (len(lines) - 1) * 7.5 + 4
        for i, line in enumerate(lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(
                f'<text x="{x + w / 2:.1f}" y="{top + i * 15:.1f}" text-anchor="middle"{weight}>{escape(line)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(draw(), end="")
