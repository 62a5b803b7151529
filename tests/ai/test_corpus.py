from blogcore.ai.corpus import TAGS, generate_corpus
from blogcore.ai.corpus import _TERMS as TOPIC_TERMS


def test_same_seed_gives_the_same_corpus_and_another_seed_another():
    assert generate_corpus(50, seed=3) == generate_corpus(50, seed=3)
    assert generate_corpus(50, seed=3) != generate_corpus(50, seed=4)


def test_posts_carry_one_to_three_known_tags_and_every_tag_occurs():
    corpus = generate_corpus(500, seed=0)
    assert all(1 <= len(post.tags) <= 3 for post in corpus)
    assert all(set(post.tags) <= set(TAGS) and len(set(post.tags)) == len(post.tags) for post in corpus)
    assert {tag for post in corpus for tag in post.tags} == set(TAGS)
    assert any(len(post.tags) == 1 for post in corpus) and any(len(post.tags) == 3 for post in corpus)


def test_posts_mention_topics_they_are_not_tagged_with():
    corpus = generate_corpus(300, seed=0)

    def mentions_untagged(post):
        untagged = [t for t in TAGS if t not in post.tags]
        own = {term for tag in post.tags for term in TOPIC_TERMS[tag]}
        return any(term in post.body and term not in own for t in untagged for term in TOPIC_TERMS[t])

    share = sum(mentions_untagged(post) for post in corpus) / len(corpus)
    assert 0.2 < share < 0.8
