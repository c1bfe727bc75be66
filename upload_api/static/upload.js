// filepipe upload page: ask the API for a grant, send the bytes, follow the file.
import { AwsClient } from './aws4fetch.mjs';

const API = new URL('../api/', document.baseURI);
const rows = document.getElementById('rows');
const PART_RETRIES = 4;
const PART_CONCURRENCY = 3;

function authHeaders() {
  const token = document.getElementById('token').value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function addRow(file) {
  const tr = document.createElement('tr');
  tr.dataset.name = file.name;
  tr.innerHTML = '<td class="name"></td><td class="size"></td><td><progress max="1" value="0"></progress></td><td class="status muted">waiting</td>';
  tr.querySelector('.name').textContent = file.name;
  tr.querySelector('.size').textContent = formatSize(file.size);
  rows.appendChild(tr);
  return {
    progress: (fraction) => { tr.querySelector('progress').value = fraction; },
    status: (text, kind = 'muted') => {
      const cell = tr.querySelector('.status');
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
  const response = await fetch(new URL(path, API), { ...init, headers: { ...(init.headers || {}), ...authHeaders() } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
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

// A multipart upload in progress is remembered in localStorage (its grant, upload id and the
// ETags of the parts sent), so that choosing the same file again after a reload or a crash
// sends only the missing parts, for as long as the grant's credentials last.
const SAVED = 'filepipe-upload:';
const RESUME_MARGIN_MS = 5 * 60 * 1000;

function savedName(file) {
  return `${SAVED}${file.name}:${file.size}:${file.lastModified}`;
}

function loadSaved(file) {
  try {
    const saved = JSON.parse(localStorage.getItem(savedName(file)) || 'null');
    const expires = saved && Date.parse(saved.grant.credentials.expiration.replace(' ', 'T'));
    if (saved && expires - Date.now() > RESUME_MARGIN_MS) return saved;
  } catch (error) {
    console.warn('ignoring a saved upload', error);
  }
  localStorage.removeItem(savedName(file));
  return null;
}

async function multipart(grant, file, row, saved = null) {
  const c = grant.credentials;
  const aws = new AwsClient({
    accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken,
    service: 's3', region: grant.region,
  });
  const url = grant.objectUrl;
  let uploadId = saved ? saved.uploadId : null;
  if (!uploadId) {
    const created = await withRetries('create upload', async () => {
      const r = await aws.fetch(`${url}?uploads`, { method: 'POST', headers: { 'Content-Type': file.type || 'application/octet-stream' } });
      if (!r.ok) throw new Error(`CreateMultipartUpload answered ${r.status}`);
      return r.text();
    });
    uploadId = new DOMParser().parseFromString(created, 'application/xml').querySelector('UploadId').textContent;
  }
  const count = Math.max(1, Math.ceil(file.size / grant.partSize));
  const etags = saved ? saved.etags : new Array(count).fill(null);
  const remember = () => localStorage.setItem(savedName(file), JSON.stringify({ grant, uploadId, etags }));
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
        const r = await aws.fetch(`${url}?partNumber=${index + 1}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body });
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
      const r = await aws.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, {
        method: 'POST', body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`,
      });
      const text = await r.text();
      if (!r.ok || text.includes('<Error>')) throw new Error(`CompleteMultipartUpload answered ${r.status}`);
    });
  } catch (error) {
    await aws.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, { method: 'DELETE' }).catch(() => {});
    throw error;
  } finally {
    localStorage.removeItem(savedName(file));
  }
}

async function follow(key, row) {
  for (;;) {
    const s = await api(`uploads/status?key=${encodeURIComponent(key)}`);
    if (s.state === 'archived') return row.status('archived', 'archived');
    if (s.state === 'failed') return row.status(`failed: ${s.error}`, 'failed');
    row.status(s.state === 'processing' ? 'processing' : 'waiting for the pipeline');
    await new Promise((r) => setTimeout(r, 1000));
  }
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
