export const id = 951;
export const ids = [951];
export const modules = {

/***/ 1951:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   datadogKind: () => (/* binding */ datadogKind),
/* harmony export */   judgeMonitor: () => (/* binding */ judgeMonitor),
/* harmony export */   judgeQuery: () => (/* binding */ judgeQuery)
/* harmony export */ });
/* harmony import */ var _model_checks_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(2920);
/* harmony import */ var _model_errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7206);
/* harmony import */ var _kind_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(3631);
/**
 * `datadog`: a metrics query (`GET /api/v1/query`, each series' newest point held to the condition) or a monitor's
 * state (`GET /api/v1/monitor/{id}`: OK passes, Alert and Warn fail, No Data and the rest are no data). Plain
 * fetch: the official client is 130 MB for two GET requests. The API and application keys come from check-secrets,
 * go only into the request's headers, and are cut out of anything a report shows.
 */



/** Every series' newest non-null point against the condition; an empty answer or an error has no data. */
function judgeQuery(check, answer) {
    if (answer.status !== 'ok' || !Array.isArray(answer.series))
        return {
            verdict: 'no-data',
            value: 'no data',
            detail: `Datadog answered ${answer.status ?? 'no status'}${answer.error ? `: ${answer.error}` : ''}`,
        };
    if (answer.series.length === 0)
        return { verdict: 'no-data', value: 'no data', detail: 'the query returned no series' };
    const read = [];
    for (const s of answer.series) {
        const label = s.scope && s.scope !== '*'
            ? `${s.metric ?? s.expression ?? 'series'}{${s.scope}}`
            : (s.expression ?? s.metric ?? 'series');
        const points = (s.pointlist ?? []).filter((p) => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number' && Number.isFinite(p[1]));
        const newest = points.sort((a, b) => b[0] - a[0])[0];
        if (!newest)
            return { verdict: 'no-data', value: 'no data', detail: `${label}: no point in the window` };
        read.push({ label, value: newest[1] });
    }
    const condition = check.condition;
    const shown = read.map((r) => `${r.label} ${r.value}`).join(', ');
    const bad = condition ? read.find((r) => !(0,_model_checks_js__WEBPACK_IMPORTED_MODULE_0__/* .meets */ .D)(condition, r.value)) : undefined;
    if (bad)
        return { verdict: 'fail', value: String(bad.value), detail: `${shown}; wanted ${condition?.text}` };
    return {
        verdict: 'pass',
        value: read.map((r) => r.value).join(', '),
        detail: `${shown} ${condition?.text ?? ''}`.trim(),
    };
}
/** A monitor's overall_state: OK passes, Alert and Warn fail, No Data, Unknown, Skipped and Ignored have no data. */
function judgeMonitor(id, monitor) {
    const state = monitor.overall_state ?? 'no state';
    const name = monitor.name ? ` (${monitor.name})` : '';
    if (state === 'OK')
        return { verdict: 'pass', value: state, detail: `monitor ${id}${name} is OK` };
    if (state === 'Alert' || state === 'Warn')
        return { verdict: 'fail', value: state, detail: `monitor ${id}${name} is ${state}` };
    return { verdict: 'no-data', value: state, detail: `monitor ${id}${name} is ${state}` };
}
function requestUrl(check, query) {
    const base = check.url.replace(/\/+$/, '');
    if ('monitor' in check.source)
        return `${base}/api/v1/monitor/${check.source.monitor}`;
    const to = Math.floor(Date.now() / 1000);
    const from = to - Math.round(check.windowMs / 1000);
    return `${base}/api/v1/query?${new URLSearchParams({ from: String(from), to: String(to), query: query ?? '' })}`;
}
/** Datadog's answer to an error: `{"errors": ["Forbidden"]}`. */
function errorsOf(text) {
    try {
        const errors = JSON.parse(text).errors;
        if (Array.isArray(errors))
            return errors.map(String).join('; ');
    }
    catch {
        // not JSON: shown as it came
    }
    return text.replace(/\s+/g, ' ').slice(0, 80);
}
async function read(check, keys, query, signal) {
    let response;
    let text;
    try {
        response = await fetch(requestUrl(check, query), {
            signal,
            headers: { accept: 'application/json', 'DD-API-KEY': keys.api, 'DD-APPLICATION-KEY': keys.app },
        });
        text = await response.text();
    }
    catch (error) {
        const why = signal.aborted ? 'no answer within the timeout' : (0,_model_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .errorMessage */ .gJ)(error.cause ?? error);
        return { verdict: 'no-data', value: 'no data', detail: `${check.url} unreachable: ${why}` };
    }
    if (response.status === 401 || response.status === 403)
        return {
            verdict: 'no-data',
            value: `${response.status}`,
            detail: `Datadog refused the keys (${response.status} ${errorsOf(text)}): check the api-key and app-key secrets and the app key's scopes (metrics_read, monitors_read)`,
        };
    if (!response.ok)
        return {
            verdict: 'no-data',
            value: `${response.status}`,
            detail: `Datadog answered ${response.status}: ${errorsOf(text)}`,
        };
    let answer;
    try {
        answer = JSON.parse(text);
    }
    catch {
        return {
            verdict: 'no-data',
            value: 'no data',
            detail: `${check.url} answered something not JSON: ${text.replace(/\s+/g, ' ').slice(0, 80)}`,
        };
    }
    if (typeof answer !== 'object' || answer === null)
        return {
            verdict: 'no-data',
            value: 'no data',
            detail: `${check.url} answered ${JSON.stringify(answer).slice(0, 80)}`,
        };
    if ('monitor' in check.source)
        return judgeMonitor(check.source.monitor, answer);
    const reading = judgeQuery(check, answer);
    return { ...reading, detail: `${query}: ${reading.detail}` };
}
/** The text with every key cut out. */
function redact(text, keys) {
    return keys.filter((k) => k.length >= 4).reduce((t, k) => t.replaceAll(k, '***'), text);
}
const datadogKind = {
    async evaluate(check, context, _target, signal) {
        const api = context.secrets?.get(check.apiKey);
        const app = context.secrets?.get(check.appKey);
        if (!api || !app)
            return {
                verdict: 'fail',
                value: 'no keys',
                detail: `check-secrets has no ${!api ? check.apiKey : check.appKey}`,
            };
        const query = 'query' in check.source ? (0,_kind_js__WEBPACK_IMPORTED_MODULE_2__/* .fill */ .GS)(check.source.query, (0,_kind_js__WEBPACK_IMPORTED_MODULE_2__/* .templateValues */ .nX)(context), (v) => v) : undefined;
        const reading = await read(check, { api, app }, query, signal);
        return { ...reading, value: redact(reading.value, [api, app]), detail: redact(reading.detail, [api, app]) };
    },
};


/***/ })

};
