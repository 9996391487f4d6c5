/** Entry of both the main and the post step (one bundle): the saved state tells which one runs. */
import * as core from '@actions/core';
import { runMain } from './main.js';
import { runPost } from './post.js';

if (core.getState('isPost') === 'true') {
  await runPost();
} else {
  core.saveState('isPost', 'true');
  await runMain();
}
