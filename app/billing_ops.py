"""The one list of credit-consuming operations, used everywhere."""

OPERATIONS = {
    "clustering": "Keyword clustering",
    "idea_generation": "Idea generation",
    "content_generation": "Article writing",
    "image_prompt_extraction": "Image prompts",
    "image_generation": "Image generation",
    "linking": "Internal linking",
    "optimization": "Optimization",
    "cluster_naming": "Cluster naming",
}
