/** What happened, in order: every change to the load balancer and every verdict, for the log and the summary. */
import * as core from '@actions/core';

export interface Event {
  readonly at: Date;
  readonly text: string;
}

export class Timeline {
  readonly events: Event[] = [];

  note(text: string): void {
    this.events.push({ at: new Date(), text });
    core.info(text);
  }
}
