// filepipe upload page: sign in, ask the API for a grant, send the bytes, follow the file.
import { AwsClient } from './aws4fetch.mjs';

const API = new URL('../api/', document.baseURI);
const rows = document.getElementById('rows');
const announcer = document.getElementById('announce');
const PART_RETRIES = 4;
const PART_CONCURRENCY = 3;
const RENEW_MARGIN_MS = 5 * 60 * 1000;
const FOLLOW_FOR_MS = 30 * 60 * 1000;
const UNKNOWN_FOR_MS = 2 * 60 * 1000;

let config = { auth: 'iam' };

// -- signing in --------------------------------------------------------------------------------
// Cognito's public app client: USER_PASSWORD_AUTH over TLS, the ID token sent to the API as a
// bearer token and renewed with the refresh token before it ends. Tokens live in this tab only.

const TOKENS = 'filepipe-tokens';

function tokens() {
  return JSON.parse(sessionStorage.getItem(TOKENS) || 'null');
}

async function cognito(flow, parameters) {
  const response = await fetch(config.cognitoEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth',
    },
    body: JSON.stringify({ AuthFlow: flow, ClientId: config.clientId, AuthParameters: parameters }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `sign-in answered ${response.status}`);
  if (body.ChallengeName) {
    throw new Error(`${body.ChallengeName}: this page cannot answer it yet; an administrator can set a permanent password`);
  }
  const result = body.AuthenticationResult;
  const saved = {
    id: result.IdToken,
    refresh: result.RefreshToken || (tokens() || {}).refresh,
    expires: Date.now() + result.ExpiresIn * 1000,
    user: parameters.USERNAME || (tokens() || {}).user,
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(saved));
  return saved;
}

async function bearer() {
  if (config.auth === 'jwt') {
    const pasted = document.getElementById('token').value.trim();
    return pasted ? { Authorization: `Bearer ${pasted}` } : {};
  }
  if (config.auth !== 'cognito') return {};
  let saved = tokens();
  if (!saved) throw new Error('sign in first');
  if (saved.expires - Date.now() < RENEW_MARGIN_MS) saved = await cognito('REFRESH_TOKEN_AUTH', { REFRESH_TOKEN: saved.refresh });
  return { Authorization: `Bearer ${saved.id}` };
}

function showSession() {
  const saved = tokens();
  const signedIn = config.auth !== 'cognito' || Boolean(saved);
  document.getElementById('signin').hidden = config.auth !== 'cognito' || signedIn;
  document.getElementById('session').hidden = config.auth !== 'cognito' || !signedIn;
  document.getElementById('tokenform').hidden = config.auth !== 'jwt';
  document.getElementById('iamnote').hidden = config.auth !== 'iam';
  document.getElementById('files').disabled = !signedIn || config.auth === 'iam';
  if (saved) document.getElementById('who').textContent = `Signed in as ${saved.user}.`;
}

document.getElementById('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = document.getElementById('username').value.trim();
  try {
    await cognito('USER_PASSWORD_AUTH', { USERNAME: username, PASSWORD: document.getElementById('password').value });
    document.getElementById('password').value = '';
    announce(`Signed in as ${username}.`);
    showSession();
    document.getElementById('files').focus();
  } catch (error) {
    announce(`Sign-in failed: ${error.message}`);
  }
});

document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKENS);
  announce('Signed out.');
  showSession();
  document.getElementById('username').focus();
});

// -- the table ---------------------------------------------------------------------------------

function announce(text) {
  announcer.textContent = text;
}

function addRow(file) {
  const tr = document.createElement('tr');
  tr.dataset.name = file.name;
  tr.innerHTML = '<th scope="row" class="name"></th><td class="size"></td><td><progress max="1" value="0"></progress></td><td class="status muted">waiting</td>';
  tr.querySelector('.name').textContent = file.name;
  tr.querySelector('.size').textContent = formatSize(file.size);
  tr.querySelector('progress').setAttribute('aria-label', `upload of ${file.name}`);
  rows.appendChild(tr);
  return {
    progress: (fraction) => { tr.querySelector('progress').value = fraction; },
    status: (text, kind = 'muted') => {
      const cell = tr.querySelector('.status');
      if (cell.textContent !== text && kind !== 'muted') announce(`${file.name}: ${text}`);
      cell.textContent = text;
      cell.className = `status ${kind}`;
      tr.dataset.state = kind;
    },
  };
}

function formatSize(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${n} B`;
}

async function api(path, init = {}) {
  const response = await fetch(new URL(path, API), { ...init, headers: { ...(init.headers || {}), ...(await bearer()) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || body.message || `${response.status} ${response.statusText}`);
  return body;
}

function putWithProgress(grant, file, row) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', grant.url);
    for (const [name, value] of Object.entries(grant.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => e.lengthComputable && row.progress(e.loaded / e.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`PUT answered ${xhr.status}`)));
    xhr.onerror = () => reject(new Error('network error during PUT'));
    xhr.send(file);
  });
}

async function withRetries(what, attempt) {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= PART_RETRIES) throw new Error(`${what}: ${error.message}`);
      await new Promise((r) => setTimeout(r, 250 * 2 ** n * Math.random()));
    }
  }
}

// -- multipart uploads -------------------------------------------------------------------------
// The grant's credentials can write its one key for an hour; they are renewed through the API
// before they end (or when S3 says they have), so an upload may last longer. An upload in
// progress is remembered in localStorage (its grant, upload id and the ETags of the parts sent),
// so that choosing the same file again after a reload or a crash sends only the missing parts.

const SAVED = 'filepipe-upload:';

function savedName(file) {
  return `${SAVED}${file.name}:${file.size}:${file.lastModified}`;
}

function loadSaved(file) {
  try {
    return JSON.parse(localStorage.getItem(savedName(file)) || 'null');
  } catch (error) {
    console.warn('ignoring a saved upload', error);
    localStorage.removeItem(savedName(file));
    return null;
  }
}

class GrantCredentials {
  constructor(grant) {
    this.grant = grant;
  }

  expiresAt() {
    return Date.parse(String(this.grant.credentials.expiration).replace(' ', 'T'));
  }

  async client(forceRenew = false) {
    if (forceRenew || this.expiresAt() - Date.now() < RENEW_MARGIN_MS) {
      const renewed = await api('uploads/renew', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ key: this.grant.key }),
      });
      this.grant = { ...this.grant, credentials: renewed.credentials };
      this.onRenew(this.grant);
    }
    const c = this.grant.credentials;
    return new AwsClient({
      accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken,
      service: 's3', region: this.grant.region,
    });
  }

  // An S3 call with the grant's credentials, renewed once when S3 says they have ended.
  async fetch(url, init) {
    let response = await (await this.client()).fetch(url, init);
    if (response.status === 400 || response.status === 403) {
      const text = await response.clone().text();
      if (text.includes('ExpiredToken')) response = await (await this.client(true)).fetch(url, init);
    }
    return response;
  }
}

async function multipart(grant, file, row, saved = null) {
  const access = new GrantCredentials(grant);
  const url = grant.objectUrl;
  let uploadId = saved ? saved.uploadId : null;
  const count = Math.max(1, Math.ceil(file.size / grant.partSize));
  const etags = saved ? saved.etags : new Array(count).fill(null);
  const remember = () => localStorage.setItem(savedName(file), JSON.stringify({ grant: access.grant, uploadId, etags }));
  access.onRenew = remember;
  if (!uploadId) {
    const created = await withRetries('create upload', async () => {
      const r = await access.fetch(`${url}?uploads`, { method: 'POST', headers: { 'Content-Type': grant.contentType } });
      if (!r.ok) throw new Error(`CreateMultipartUpload answered ${r.status}`);
      return r.text();
    });
    uploadId = new DOMParser().parseFromString(created, 'application/xml').querySelector('UploadId').textContent;
  }
  remember();
  const partSize = (index) => Math.min(file.size, (index + 1) * grant.partSize) - index * grant.partSize;
  let sent = etags.reduce((total, etag, index) => total + (etag ? partSize(index) : 0), 0);
  row.progress(sent / file.size);
  const pending = etags.flatMap((etag, index) => (etag ? [] : [index]));
  async function worker() {
    while (pending.length) {
      const index = pending.shift();
      const blob = file.slice(index * grant.partSize, index * grant.partSize + partSize(index));
      const body = await blob.arrayBuffer();
      etags[index] = await withRetries(`part ${index + 1}`, async () => {
        const r = await access.fetch(`${url}?partNumber=${index + 1}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body });
        if (!r.ok) throw new Error(`UploadPart answered ${r.status}`);
        return r.headers.get('ETag');
      });
      remember();
      sent += blob.size;
      row.progress(sent / file.size);
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, pending.length) }, worker));
    const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('');
    await withRetries('complete upload', async () => {
      const r = await access.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, {
        method: 'POST', body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`,
      });
      const text = await r.text();
      if (!r.ok || text.includes('<Error>')) throw new Error(`CompleteMultipartUpload answered ${r.status}`);
    });
  } catch (error) {
    await access.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, { method: 'DELETE' }).catch(() => {});
    throw error;
  } finally {
    localStorage.removeItem(savedName(file));
  }
}

// -- following a file --------------------------------------------------------------------------
// Polls with backoff (1 s, growing to 15 s) and stops: at the end, after half an hour, or when
// the key stays unknown for two minutes.

async function follow(key, row) {
  const started = Date.now();
  let delay = 1000;
  let unknownSince = null;
  while (Date.now() - started < FOLLOW_FOR_MS) {
    const s = await api(`uploads/status?key=${encodeURIComponent(key)}`);
    if (s.state === 'archived') return row.status('archived', 'archived');
    if (s.state === 'failed') return row.status(`failed: ${s.error}: ${s.reason}`, 'failed');
    if (s.state === 'unknown') {
      unknownSince = unknownSince || Date.now();
      if (Date.now() - unknownSince > UNKNOWN_FOR_MS) return row.status('not found: stopped following', 'error');
    } else {
      unknownSince = null;
    }
    row.status(s.state === 'processing' ? 'processing' : 'waiting for the pipeline');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 15000);
  }
  return row.status('still not done: stopped following (reload to look again)', 'error');
}

async function upload(file) {
  const row = addRow(file);
  try {
    const saved = loadSaved(file);
    let grant;
    if (saved) {
      grant = saved.grant;
      const done = saved.etags.filter(Boolean).length;
      row.status(`resuming: ${done} of ${saved.etags.length} parts already sent`);
    } else {
      row.status('asking for an upload');
      grant = await api('uploads', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ filename: file.name, contentType: file.type || 'application/octet-stream', size: file.size }),
      });
      row.status(grant.method === 'PUT' ? 'uploading' : 'uploading in parts');
    }
    if (grant.method === 'PUT') await putWithProgress(grant, file, row);
    else await multipart(grant, file, row, saved);
    row.progress(1);
    row.status('uploaded');
    await follow(grant.key, row);
  } catch (error) {
    row.status(error.message, 'error');
  }
}

function uploadAll(files) {
  for (const file of files) upload(file);
}

document.getElementById('files').addEventListener('change', (e) => uploadAll(e.target.files));
const drop = document.getElementById('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); uploadAll(e.dataTransfer.files); });

config = await fetch(new URL('config.json', document.baseURI)).then((r) => r.json()).catch(() => ({ auth: 'iam' }));
showSession();
