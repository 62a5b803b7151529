"""The labelled blog corpus the project generates to train and test the tag classifier (seeded, deterministic).

Posts mix one to three topics. The task is kept honest: topics share vocabulary (a "model" is machine learning,
a "pipeline" devops or data, a "budget" finance or travel), generic sentences carry no topic, and many posts
mention a topic in passing without being tagged with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TAGS: tuple[str, ...] = (
    "python",
    "machine-learning",
    "web",
    "databases",
    "devops",
    "security",
    "career",
    "cooking",
    "travel",
    "finance",
)

# Each topic: terms that fill generic templates, and sentences only that topic writes.
_TERMS: dict[str, list[str]] = {
    "python": [
        "type hints", "virtual environments", "the standard library", "list comprehensions", "asyncio",
        "decorators", "dataclasses", "pip and wheels", "the GIL", "pytest fixtures", "generators", "packaging",
        "the data model", "f-strings", "a script", "performance",
    ],
    "machine-learning": [
        "gradient descent", "the training loop", "overfitting", "embeddings", "a transformer model",
        "feature engineering", "the validation set", "hyperparameters", "a neural network", "the loss curve",
        "fine-tuning", "model evaluation", "the data", "a model", "inference latency", "the pipeline",
    ],
    "web": [
        "the frontend", "CSS grid", "REST endpoints", "HTTP caching", "server-side rendering", "JavaScript bundles",
        "a single-page app", "web accessibility", "the browser", "response times", "the API", "cookies",
        "a server", "performance", "HTML forms", "websockets",
    ],
    "databases": [
        "query plans", "indexes", "transactions", "the schema", "SQL joins", "PostgreSQL", "replication",
        "normalisation", "a migration", "connection pooling", "the data", "isolation levels", "a slow query",
        "sharding", "backups", "SQLite",
    ],
    "devops": [
        "the CI pipeline", "Docker images", "Kubernetes", "infrastructure as code", "monitoring", "alerts",
        "deployments", "Terraform", "the on-call rotation", "log aggregation", "a server", "rollbacks",
        "container registries", "the pipeline", "uptime", "backups",
    ],
    "security": [
        "password hashing", "TLS certificates", "SQL injection", "cross-site scripting", "threat models",
        "two-factor authentication", "access control", "a vulnerability", "secrets management", "cookies",
        "penetration testing", "the firewall", "phishing", "encryption", "an audit", "the API",
    ],
    "career": [
        "job interviews", "a promotion", "my manager", "salary negotiation", "mentoring", "burnout",
        "remote work", "a career change", "the team", "performance reviews", "side projects", "my resume",
        "imposter syndrome", "a new job", "learning", "the budget",
    ],
    "cooking": [
        "sourdough bread", "a cast iron pan", "the spice rack", "slow braising", "fresh pasta", "knife skills",
        "a weeknight curry", "fermentation", "the oven", "homemade stock", "a recipe", "roasted vegetables",
        "the farmers market", "baking", "street food", "dinner",
    ],
    "travel": [
        "the train across Europe", "a cheap flight", "hostels", "packing light", "jet lag", "a road trip",
        "the old town", "travel insurance", "a night market", "hiking trails", "the itinerary", "street food",
        "a visa", "the budget", "local buses", "the museum",
    ],
    "finance": [
        "index funds", "the budget", "compound interest", "a savings account", "taxes", "retirement accounts",
        "an emergency fund", "inflation", "the mortgage", "credit cards", "dividends", "my salary",
        "expense tracking", "a spreadsheet", "the stock market", "debt",
    ],
}

_OWN_SENTENCES: dict[str, list[str]] = {
    "python": [
        "I rewrote the script in Python and it is half the length.",
        "The interpreter raised a TypeError that the type checker should have caught.",
        "Packaging a Python library still involves more files than it should.",
        "A generator expression avoided building the whole list in memory.",
        "I finally understood how the import system resolves modules.",
        "Mypy in strict mode found three real bugs in an afternoon.",
    ],
    "machine-learning": [
        "The model overfit after ten epochs, so I added dropout and more data.",
        "Accuracy on the held-out set dropped when the label distribution shifted.",
        "Training on a GPU cut each epoch from an hour to four minutes.",
        "The classifier confused two classes that look alike in the embedding space.",
        "A simple logistic regression baseline was surprisingly hard to beat.",
        "We labelled a thousand more examples and the F1 score finally moved.",
    ],
    "web": [
        "The page now loads in under a second on a slow phone.",
        "We moved the styles to CSS variables and dark mode became trivial.",
        "The browser cached the old bundle until we added content hashes.",
        "Server-rendered HTML with a sprinkle of JavaScript beat the heavy framework.",
        "The endpoint returns JSON with proper status codes and error messages.",
        "Lighthouse scores improved once the images were lazy loaded.",
    ],
    "databases": [
        "Adding a composite index turned a ten second query into a few milliseconds.",
        "The migration locked the table for longer than anyone expected.",
        "EXPLAIN ANALYZE showed a sequential scan over millions of rows.",
        "We learned the hard way that the ORM issued one query per row.",
        "Foreign keys caught a whole class of bugs at write time.",
        "The replica lagged behind the primary during the nightly batch job.",
    ],
    "devops": [
        "The deployment rolled back automatically when the health check failed.",
        "Our Docker image shrank from a gigabyte to ninety megabytes.",
        "The pager went off at three in the morning because a disk filled up.",
        "Every merge now runs the build, the tests and a canary release.",
        "Terraform drift meant production no longer matched the code.",
        "Dashboards and alerts told us about the outage before the users did.",
    ],
    "security": [
        "The penetration test found an endpoint that leaked user emails.",
        "We rotated every key after a token was pushed to a public repository.",
        "Passwords are hashed with a slow algorithm and a unique salt.",
        "A phishing email fooled a third of the company in the drill.",
        "Parameterised queries close the door on injection attacks.",
        "The attacker only needed one unpatched dependency.",
    ],
    "career": [
        "After five years at the same company I finally asked for a raise.",
        "The interview had four rounds and a take-home exercise.",
        "Mentoring a junior colleague taught me more than any course.",
        "I said no to a management role and I do not regret it.",
        "Switching teams gave me a fresh start without changing employers.",
        "Writing down my achievements made the review conversation easier.",
    ],
    "cooking": [
        "The dough rose overnight in the fridge and baked into a crackling loaf.",
        "A pinch of salt and a squeeze of lemon brightened the whole dish.",
        "I browned the onions slowly for forty minutes before adding the stock.",
        "The recipe serves four but we finished it between two of us.",
        "Toasting the spices in a dry pan made the curry taste deeper.",
        "Leftover rice makes the best fried rice the next day.",
    ],
    "travel": [
        "We missed the last train and slept in a tiny guesthouse by the station.",
        "The view from the mountain pass was worth the six hour bus ride.",
        "Carrying only a backpack made changing plans easy.",
        "Our flight was delayed and we explored the city during the layover.",
        "The locals recommended a beach that no guidebook mentions.",
        "Crossing the border took three hours and two stamps.",
    ],
    "finance": [
        "I automated a monthly transfer into a low-cost index fund.",
        "Paying off the credit card first saved more than any investment earned.",
        "Our household budget finally balanced after we tracked every expense.",
        "Inflation ate the interest on the savings account this year.",
        "Rebalancing the portfolio once a year keeps the risk where I want it.",
        "The tax refund went straight into the emergency fund.",
    ],
}

# Templates any topic can fill: the topic only shows through the term.
_TEMPLATES = [
    "I spent the weekend reading about {t}.",
    "Here is what I learned about {t} this month.",
    "The hardest part was getting {t} right.",
    "Nobody warned me how much time {t} would take.",
    "My first attempt at {t} did not go well.",
    "It turns out {t} matters more than I thought.",
    "A friend asked me to explain {t} and I struggled.",
    "There are many opinions about {t} online.",
    "I kept notes on {t} so I would not forget.",
    "Most guides about {t} skip the boring details.",
    "After a few weeks, {t} started to feel natural.",
    "Let me share a few mistakes I made with {t}.",
]

_MENTIONS = [
    "Unrelated, but I also spent some time on {t} this week.",
    "On a different note, someone at lunch mentioned {t}.",
    "I will write about {t} some other time.",
    "(Yes, I know this has nothing to do with {t}.)",
]

_FILLER = [
    "Thanks for reading.",
    "Let me know what you think in the comments.",
    "This post is longer than I planned.",
    "I will keep this short.",
    "It has been a busy few weeks.",
    "As usual, your mileage may vary.",
    "I hope this helps someone.",
    "More on this soon.",
    "Coffee helped.",
    "Feedback is welcome.",
]

# Topics that tend to appear together, as in real blogs.
_AFFINITY: dict[str, list[str]] = {
    "python": ["machine-learning", "web", "databases"],
    "machine-learning": ["python", "databases"],
    "web": ["security", "python", "devops"],
    "databases": ["devops", "web"],
    "devops": ["security", "databases"],
    "security": ["web", "devops"],
    "career": ["finance", "python"],
    "cooking": ["travel"],
    "travel": ["cooking", "finance"],
    "finance": ["career", "travel"],
}


@dataclass(frozen=True)
class Post:
    title: str
    body: str
    tags: tuple[str, ...]


def _pick_topics(rng: random.Random) -> list[str]:
    count = rng.choices((1, 2, 3), weights=(0.5, 0.35, 0.15))[0]
    topics = [rng.choice(TAGS)]
    while len(topics) < count:
        candidates = [t for t in _AFFINITY[topics[-1]] if t not in topics]
        if candidates and rng.random() < 0.6:
            topics.append(rng.choice(candidates))
        else:
            topics.append(rng.choice([t for t in TAGS if t not in topics]))
    return topics


def _topic_sentence(rng: random.Random, topic: str) -> str:
    if rng.random() < 0.35:
        return rng.choice(_OWN_SENTENCES[topic])
    sentence = rng.choice(_TEMPLATES).format(t=rng.choice(_TERMS[topic]))
    return sentence[0].upper() + sentence[1:]


def generate_post(rng: random.Random) -> Post:
    topics = _pick_topics(rng)
    sentences: list[str] = []
    for rank, topic in enumerate(topics):
        count = rng.randint(3, 5) if rank == 0 else rng.randint(1, 3)
        sentences.extend(_topic_sentence(rng, topic) for _ in range(count))
    rng.shuffle(sentences)
    if rng.random() < 0.4:
        # an untagged topic mentioned in passing: the classifier must not tag every topic it sees
        distractor = rng.choice([t for t in TAGS if t not in topics])
        position = rng.randrange(len(sentences) + 1)
        sentences.insert(position, rng.choice(_MENTIONS).format(t=rng.choice(_TERMS[distractor])))
    sentences.extend(rng.sample(_FILLER, rng.randint(0, 2)))
    title = f"Notes on {rng.choice(_TERMS[topics[0]])}"
    return Post(title=title, body=" ".join(sentences), tags=tuple(sorted(topics, key=TAGS.index)))


def generate_corpus(size: int, seed: int = 0) -> list[Post]:
    """size posts, the same ones for the same seed on every machine and Python version."""
    rng = random.Random(seed)
    return [generate_post(rng) for _ in range(size)]
