/** What happened, in order: every change to the load balancer and every verdict, for the log and the summary. */
import * as core from '@actions/core';

export interface Event {
  /** When it was noted: for a change to the load balancer, once the call returned. */
  readonly at: Date;
  readonly text: string;
  /** For a change to the load balancer: when the call was sent (traffic may move from then on). */
  readonly sent?: Date;
}

export class Timeline {
  readonly events: Event[] = [];

  note(text: string, sent?: Date): void {
    this.events.push({ at: new Date(), text, ...(sent ? { sent } : {}) });
    core.info(text);
  }
}
