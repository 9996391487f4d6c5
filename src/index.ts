/** Entry of both the main and the post step (one bundle): the saved state tells which one runs. */
import { run } from './main.js';
import { run as runPost } from './post.js';
import { isPost, markPost } from './state.js';

if (isPost()) {
  await runPost();
} else {
  markPost();
  await run();
}
