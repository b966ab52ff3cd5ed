"""The switchable modules of an account."""

MODULE_LABELS = {
    "planner": "Planner",
    "writer": "Writer",
    "thinker": "Thinker",
    "automation": "Automation",
    "linker": "Linker",
    "optimizer": "Optimizer",
    "publisher": "Publisher",
}

MODULE_DESCRIPTIONS = {
    "planner": "Keywords, clusters, ideas and writing tasks.",
    "writer": "Articles, images and review.",
    "thinker": "Prompts, author profiles and content strategies.",
    "automation": "Scheduled runs of the whole pipeline.",
    "linker": "Internal links between articles of a site.",
    "optimizer": "Scores and rewrites for better search performance.",
    "publisher": "WordPress connections, schedules and the publishing calendar.",
}
