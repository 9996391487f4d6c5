export const id = 201;
export const ids = [201];
export const modules = {

/***/ 5201:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   cloudwatchKind: () => (/* binding */ cloudwatchKind),
/* harmony export */   judgeAlarm: () => (/* binding */ judgeAlarm),
/* harmony export */   judgeMetricData: () => (/* binding */ judgeMetricData)
/* harmony export */ });
/* harmony import */ var _lb_aws_alb_api_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1397);
/* harmony import */ var _model_checks_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(2920);
/* harmony import */ var _model_errors_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(7206);
/* harmony import */ var _kind_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(3631);




/** Each result's newest value against the condition; a result without values (or one CloudWatch failed) has no data. */
function judgeMetricData(check, results, messages) {
    if (results.length === 0)
        return {
            verdict: 'no-data',
            value: 'no data',
            detail: `no result${messages.length ? `: ${messages.join('; ')}` : ''}`,
        };
    const read = [];
    for (const r of results) {
        const label = r.Label || r.Id || 'result';
        if (r.StatusCode === 'Forbidden' || r.StatusCode === 'InternalError')
            return { verdict: 'no-data', value: 'no data', detail: `${label}: CloudWatch answered ${r.StatusCode}` };
        const newest = (r.Timestamps ?? [])
            .map((t, i) => ({ t: new Date(t).getTime(), v: r.Values?.[i] }))
            .filter((p) => typeof p.v === 'number' && Number.isFinite(p.v))
            .sort((a, b) => b.t - a.t)[0];
        if (!newest)
            return { verdict: 'no-data', value: 'no data', detail: `${label}: no datapoint in the window` };
        read.push({ label, value: newest.v });
    }
    const condition = check.condition;
    const shown = read.map((r) => `${r.label} ${r.value}`).join(', ');
    const bad = condition ? read.find((r) => !(0,_model_checks_js__WEBPACK_IMPORTED_MODULE_1__/* .meets */ .D)(condition, r.value)) : undefined;
    if (bad)
        return { verdict: 'fail', value: String(bad.value), detail: `${shown}; wanted ${condition?.text}` };
    return {
        verdict: 'pass',
        value: read.map((r) => r.value).join(', '),
        detail: `${shown} ${condition?.text ?? ''}`.trim(),
    };
}
/** An alarm's state: OK passes, ALARM fails, INSUFFICIENT_DATA (or no such alarm) has no data. */
function judgeAlarm(name, alarms) {
    const alarm = alarms[0];
    if (!alarm)
        return { verdict: 'no-data', value: 'no alarm', detail: `no alarm named ${name} in this region` };
    const state = alarm.StateValue ?? 'no state';
    const why = alarm.StateReason ? `: ${alarm.StateReason}` : '';
    if (state === 'OK')
        return { verdict: 'pass', value: state, detail: `alarm ${name} is OK` };
    if (state === 'ALARM')
        return { verdict: 'fail', value: state, detail: `alarm ${name} is in ALARM${why}` };
    return { verdict: 'no-data', value: state, detail: `alarm ${name} is ${state}${why}` };
}
function metricQuery(check, context) {
    const values = (0,_kind_js__WEBPACK_IMPORTED_MODULE_3__/* .templateValues */ .nX)(context);
    const filled = (t) => (0,_kind_js__WEBPACK_IMPORTED_MODULE_3__/* .fill */ .GS)(t, values, (v) => v);
    const s = check.source;
    if ('expression' in s)
        return { Id: 'q', Expression: filled(s.expression), Period: check.periodS, ReturnData: true };
    if ('alarm' in s)
        throw new Error('an alarm has no metric query');
    return {
        Id: 'q',
        MetricStat: {
            Metric: {
                Namespace: s.namespace,
                MetricName: s.metric,
                Dimensions: s.dimensions.map(([Name, Value]) => ({ Name, Value: filled(Value) })),
            },
            Period: check.periodS,
            Stat: s.stat,
        },
        ReturnData: true,
    };
}
async function read(check, context, api, signal) {
    const { client, sdk } = await api.cw();
    const s = check.source;
    if ('alarm' in s) {
        const name = (0,_kind_js__WEBPACK_IMPORTED_MODULE_3__/* .fill */ .GS)(s.alarm, (0,_kind_js__WEBPACK_IMPORTED_MODULE_3__/* .templateValues */ .nX)(context), (v) => v);
        const out = await api.send(client, new sdk.DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }), signal);
        return judgeAlarm(name, [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]);
    }
    const end = new Date();
    const out = await api.send(client, new sdk.GetMetricDataCommand({
        MetricDataQueries: [metricQuery(check, context)],
        StartTime: new Date(end.getTime() - check.windowMs),
        EndTime: end,
        ScanBy: 'TimestampDescending',
    }), signal);
    return judgeMetricData(check, out.MetricDataResults ?? [], (out.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()));
}
/** An AWS error in a few words: the operation, AWS's code and message, and what to do about credentials. */
function awsWhy(error) {
    if (!(error instanceof _lb_aws_alb_api_js__WEBPACK_IMPORTED_MODULE_0__/* .AwsCallError */ .i))
        return (0,_model_errors_js__WEBPACK_IMPORTED_MODULE_2__/* .errorMessage */ .gJ)(error);
    const cause = error.cause;
    const tries = error.attempts > 1 ? ` (${error.attempts} attempts)` : '';
    const advice = error.kind === 'credentials'
        ? ": the step's AWS credentials are missing, expired or lack cloudwatch:GetMetricData / cloudwatch:DescribeAlarms"
        : '';
    return `${error.operation} failed${tries}: ${cause?.name ?? 'Error'}: ${cause?.message ?? error.message}${advice}`;
}
const IDLE_MS = 60_000;
const clients = new Map();
/**
 * One client per region, timeout and endpoint, kept between polls (credentials from web identity or a role are fetched
 * once, not every poll) and destroyed after a minute unused; its idle timer never holds the process.
 */
function clientFor(check) {
    // The SDK reads its endpoint from the environment when the client is made.
    const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDWATCH ?? process.env.AWS_ENDPOINT_URL ?? '';
    const key = `${check.region} ${check.timeoutMs} ${endpoint}`;
    let entry = clients.get(key);
    if (!entry) {
        entry = {
            api: new _lb_aws_alb_api_js__WEBPACK_IMPORTED_MODULE_0__/* .AwsApi */ .O({ region: check.region || undefined, maxAttempts: 2, timeoutMs: check.timeoutMs }),
            idle: undefined,
        };
        clients.set(key, entry);
    }
    const kept = entry;
    clearTimeout(kept.idle);
    kept.idle = setTimeout(() => {
        clients.delete(key);
        kept.api.close();
    }, IDLE_MS).unref();
    return kept.api;
}
const cloudwatchKind = {
    async evaluate(check, context, _target, signal) {
        try {
            return await read(check, context, clientFor(check), signal);
        }
        catch (error) {
            const why = signal.aborted ? 'no answer within the timeout' : awsWhy(error);
            return { verdict: 'no-data', value: 'no data', detail: `CloudWatch: ${why}` };
        }
    },
};


/***/ })

};
