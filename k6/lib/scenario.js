// One iteration = one operation drawn from the mix, against this scenario's target (one scenario per target).
import * as api from './api.js';
import { chooser } from './mix.js';

// Posts this VU created and has not deleted yet, per target, so deletes never hit a missing id.
const created = {};

export function makeIteration(weights) {
  const next = chooser(weights);
  return function iteration(data) {
    const base = __ENV.TARGET_URL;
    const name = __ENV.TARGET_NAME;
    const ids = data.ids[name];
    const mine = (created[name] = created[name] || []);
    const op = next();
    switch (op) {
      case 'list':
        api.listPosts(base);
        break;
      case 'read':
        api.readPost(base, api.pick(ids));
        break;
      case 'create': {
        const id = api.createPost(base);
        if (id !== undefined) mine.push(id);
        break;
      }
      case 'update':
        api.updatePost(base, api.pick(ids));
        break;
      case 'delete': {
        // Delete one of our own posts (creating it first if we have none) so the seeded set stays intact.
        const id = mine.length ? mine.pop() : api.createPost(base);
        if (id !== undefined) api.deletePost(base, id);
        break;
      }
      default:
        api.runAI(base, op, api.pick(ids));
    }
  };
}
