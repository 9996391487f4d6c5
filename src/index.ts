/** Entry of both the main and the post step (one bundle): the saved state tells which one runs. */
import { releaseLeftLock } from './actions/lock.js';
import { run } from './main.js';
import { post } from './post.js';
import { isPost, markPost } from './state.js';

if (isPost()) {
  try {
    await post();
  } finally {
    await releaseLeftLock();
  }
} else {
  markPost();
  await run();
}
