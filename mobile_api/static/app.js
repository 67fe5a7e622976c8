/* Federa member app. Plain JavaScript, no framework: hash routes, the /api/v1/me API with a bearer
   token, the last loaded lists kept in localStorage for offline reading, Web Push via the service worker.
   Every text from the server is inserted as text (textContent); only `body_html`, which the server
   cleans with an allow-list, is parsed as HTML, and the page's CSP forbids inline script anyway. */
(function () {
  'use strict';

  var API = '/api/v1';
  var KEY = 'federa.';
  var ALL_STRINGS = JSON.parse(document.getElementById('app-strings').textContent);
  var view = document.getElementById('view');
  var statusBar = document.getElementById('status');
  var tabs = document.getElementById('tabs');
  var inboxLink = document.getElementById('inbox-link');
  var unreadBadge = document.getElementById('unread');
  var state = {token: store('token'), lang: store('lang') || pickLanguage(), profileEtag: null};

  // --- small helpers ---------------------------------------------------------------------------

  function store(name, value) {
    try {
      if (value === undefined) { return localStorage.getItem(KEY + name); }
      if (value === null) { localStorage.removeItem(KEY + name); } else { localStorage.setItem(KEY + name, value); }
    } catch (e) { return null; }
    return value;
  }

  function pickLanguage() {
    var langs = navigator.languages || [navigator.language || 'nl'];
    for (var i = 0; i < langs.length; i++) {
      var code = String(langs[i]).slice(0, 2).toLowerCase();
      if (ALL_STRINGS[code]) { return code; }
    }
    return 'nl';
  }

  function t(key) {
    var strings = ALL_STRINGS[state.lang] || ALL_STRINGS.nl;
    return strings[key] || ALL_STRINGS.en[key] || key;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === 'text') { node.textContent = value; } else if (name === 'on') {
        Object.keys(value).forEach(function (ev) { node.addEventListener(ev, value[ev]); });
      } else { node.setAttribute(name, value === true ? '' : value); }
    });
    (children || []).forEach(function (child) {
      if (child) { node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child); }
    });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function show(nodes) {
    clear(view);
    nodes.forEach(function (n) { if (n) { view.appendChild(n); } });
  }

  function setStatus(text, kind) {
    statusBar.textContent = text || '';
    statusBar.className = 'status' + (kind ? ' status-' + kind : '');
    statusBar.hidden = !text;
  }

  function translatePage() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll('[data-t]').forEach(function (node) { node.textContent = t(node.getAttribute('data-t')); });
  }

  function formatDate(value, withTime) {
    if (!value) { return ''; }
    var date = new Date(value);
    if (isNaN(date)) { return String(value); }
    var options = {day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/Brussels'};
    if (withTime) { options.hour = '2-digit'; options.minute = '2-digit'; }
    return date.toLocaleDateString(state.lang + '-BE', options);
  }

  function formatMoney(amount, currency) {
    var number = Number(amount);
    if (isNaN(number)) { return String(amount || ''); }
    return number.toLocaleString(state.lang + '-BE', {style: 'currency', currency: currency || 'EUR'});
  }

  // Only links to this site or https pages are followed.
  function safeHref(url) {
    if (!url) { return null; }
    try {
      var parsed = new URL(url, location.origin);
      if (parsed.origin === location.origin || parsed.protocol === 'https:') { return parsed.href; }
    } catch (e) { return null; }
    return null;
  }

  // --- the API ---------------------------------------------------------------------------------

  function ApiError(status, body) { this.status = status; this.body = body || {}; }

  function api(method, path, body, headers) {
    var options = {method: method, headers: Object.assign({Accept: 'application/json'}, headers || {})};
    if (state.token) { options.headers.Authorization = 'Bearer ' + state.token; }
    if (body !== undefined) { options.headers['Content-Type'] = 'application/json'; options.body = JSON.stringify(body); }
    return fetch(API + path, options).then(function (response) {
      if (response.status === 401 && state.token && path !== '/auth/token') {
        forgetSession();
        route();
        throw new ApiError(401, {});
      }
      if (response.status === 204) { return {data: null, response: response}; }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new ApiError(response.status, data); }
        return {data: data, response: response};
      });
    });
  }

  function offline(error) { return !(error instanceof ApiError); }

  // A list loaded from the API, kept for offline reading; `render(data, fromCache)`.
  function loadCached(name, path, render) {
    show([el('p', {'class': 'muted center', text: t('loading')})]);
    return api('GET', path).then(function (result) {
      store('cache.' + name, JSON.stringify(result.data));
      setStatus('');
      render(result.data, false);
    }).catch(function (error) {
      if (error instanceof ApiError && error.status === 401) { return; }
      var cached = store('cache.' + name);
      if (offline(error) && cached) {
        setStatus(t('offline'), 'warn');
        render(JSON.parse(cached), true);
      } else {
        setStatus(offline(error) ? t('offline_nothing') : t('error'), 'error');
        show([]);
      }
    });
  }

  function forgetSession() {
    state.token = null;
    state.profileEtag = null;
    Object.keys(localStorage).forEach(function (name) {
      if (name.indexOf(KEY) === 0 && name !== KEY + 'lang') { localStorage.removeItem(name); }
    });
  }

  // --- views -----------------------------------------------------------------------------------

  function loginView() {
    var error = el('p', {'class': 'form-error', role: 'alert', hidden: true});
    var email = el('input', {type: 'email', name: 'email', autocomplete: 'username', required: true, id: 'login-email'});
    var password = el('input', {type: 'password', name: 'password', autocomplete: 'current-password', required: true,
      id: 'login-password'});
    var button = el('button', {type: 'submit', 'class': 'primary block', text: t('login')});
    var form = el('form', {'class': 'card login', on: {submit: function (event) {
      event.preventDefault();
      button.disabled = true;
      error.hidden = true;
      api('POST', '/auth/token', {email: email.value, password: password.value, name: 'member app'})
        .then(function (result) {
          state.token = store('token', result.data.access_token);
          password.value = '';
          location.hash = '#/feed';
          route();
          refreshUnread();
        }).catch(function (err) {
          error.textContent = err instanceof ApiError ? (err.status === 429 ? t('too_many') : t('bad_login')) : t('offline_nothing');
          error.hidden = false;
        }).then(function () { button.disabled = false; });
    }}}, [
      el('img', {src: '/app/icons/icon.svg', alt: '', width: 64, height: 64, 'class': 'login-logo'}),
      el('h2', {text: t('app_name')}),
      el('p', {'class': 'muted', text: t('tagline')}),
      el('label', {'for': 'login-email', text: t('email')}), email,
      el('label', {'for': 'login-password', text: t('password')}), password,
      error, button,
    ]);
    show([form]);
    email.focus();
  }

  function emptyState(text) { return el('p', {'class': 'empty', text: text}); }

  function feedCard(item) {
    var body = null;
    if (item.body_html) {
      // Allow-listed on the server; parsed inertly here (no scripts run in a DOMParser document).
      body = el('div', {'class': 'rich'});
      var parsed = new DOMParser().parseFromString(item.body_html, 'text/html');
      Array.prototype.slice.call(parsed.body.childNodes).forEach(function (n) { body.appendChild(document.adoptNode(n)); });
      body.querySelectorAll('*').forEach(function (n) {
        Array.prototype.slice.call(n.attributes).forEach(function (a) {
          if (!(n.tagName === 'A' && (a.name === 'href' || a.name === 'rel' || a.name === 'target'))) { n.removeAttribute(a.name); }
        });
        if (n.tagName === 'A' && !safeHref(n.getAttribute('href'))) { n.removeAttribute('href'); }
      });
    }
    var image = item.image_url && safeHref(item.image_url) ? el('img', {'class': 'card-image', src: safeHref(item.image_url),
      alt: '', loading: 'lazy'}) : null;
    var link = safeHref(item.url);
    return el('article', {'class': 'card feed-item', 'data-kind': item.kind}, [
      image,
      el('p', {'class': 'meta', text: [item.org_name, formatDate(item.published_at)].filter(Boolean).join(' · ')}),
      el('h2', {text: item.title}),
      item.summary ? el('p', {text: item.summary}) : null,
      body,
      item.download_url ? el('button', {type: 'button', 'class': 'link', text: t('open'),
        on: {click: function () { openFile(item); }}}) : null,
      link ? el('a', {href: link, 'class': 'link', text: t('open')}) : null,
    ]);
  }

  function feedView() {
    loadCached('feed', '/me/feed', function (data) {
      var items = data.items || [];
      show([
        el('div', {'class': 'list-head'}, [el('h2', {text: t('feed')}), el('button', {type: 'button', 'class': 'link',
          text: t('refresh'), on: {click: feedView}})]),
      ].concat(items.length ? items.map(feedCard) : [emptyState(t('no_news'))]));
    });
  }

  // Documents and invoices are fetched with the token, then opened from memory.
  function openFile(item) {
    var url = safeHref(item.download_url);
    if (!url) { return; }
    fetch(url, {headers: {Authorization: 'Bearer ' + state.token}}).then(function (response) {
      if (!response.ok) { throw new ApiError(response.status, {}); }
      return response.blob();
    }).then(function (blob) {
      var objectUrl = URL.createObjectURL(blob);
      var a = el('a', {href: objectUrl, download: (item.title || 'document').replace(/[\\/:*?"<>|]+/g, '-')});
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(objectUrl); }, 60000);
    }).catch(function (error) { setStatus(offline(error) ? t('offline_nothing') : t('error'), 'error'); });
  }

  function documentsView() {
    loadCached('documents', '/me/documents', function (data) {
      var items = data.items || [];
      show([el('h2', {text: t('documents')})].concat(items.length ? [el('ul', {'class': 'rows'}, items.map(function (item) {
        return el('li', {'class': 'row-item'}, [
          el('div', {}, [el('strong', {text: item.title}),
            el('p', {'class': 'meta', text: [item.org_name, formatDate(item.published_at)].filter(Boolean).join(' · ')})]),
          item.download_url ? el('button', {type: 'button', 'class': 'button', text: t('open'),
            on: {click: function () { openFile(item); }}}) : null,
        ]);
      }))] : [emptyState(t('no_documents'))]));
    });
  }

  function invoicesView() {
    loadCached('invoices', '/me/invoices', function (data) {
      var items = data.items || [];
      show([el('h2', {text: t('invoices')})].concat(items.length ? [el('ul', {'class': 'rows'}, items.map(function (item) {
        var paid = item.status === 'paid';
        var pay = !paid && safeHref(item.payment_url);
        return el('li', {'class': 'row-item'}, [
          el('div', {}, [
            el('strong', {text: item.title}),
            el('p', {'class': 'meta', text: [item.org_name, item.due_on ? t('due_on') + ' ' + formatDate(item.due_on) : '']
              .filter(Boolean).join(' · ')}),
            el('p', {}, [el('span', {'class': 'amount', text: item.amount ? formatMoney(item.amount, item.currency) : ''}), ' ',
              el('span', {'class': 'badge ' + (paid ? 'badge-ok' : 'badge-warn'), text: paid ? t('paid') : t('unpaid')})]),
          ]),
          el('div', {'class': 'actions'}, [
            item.download_url ? el('button', {type: 'button', 'class': 'button', text: t('pdf'),
              on: {click: function () { openFile(item); }}}) : null,
            pay ? el('a', {href: pay, 'class': 'button primary', target: '_blank', rel: 'noopener noreferrer', text: t('pay')}) : null,
          ]),
        ]);
      }))] : [emptyState(t('no_invoices'))]));
    });
  }

  var PROFILE_FIELDS = ['first_name', 'last_name', 'birth_date', 'national_number', 'email', 'email_alt', 'phone', 'mobile',
    'street', 'house_number', 'box', 'postal_code', 'city', 'country', 'emergency_contact_name', 'emergency_contact_phone',
    'preferred_language'];

  function profileView() {
    show([el('p', {'class': 'muted center', text: t('loading')})]);
    api('GET', '/me/profile').then(function (result) {
      state.profileEtag = result.response.headers.get('ETag');
      store('cache.profile', JSON.stringify(result.data));
      setStatus('');
      renderProfile(result.data);
    }).catch(function (error) {
      var cached = store('cache.profile');
      if (offline(error) && cached) { setStatus(t('offline'), 'warn'); renderProfile(JSON.parse(cached), true); }
      else if (!(error instanceof ApiError && error.status === 401)) { setStatus(t('error'), 'error'); }
    });
  }

  function renderProfile(profile, readOnly) {
    var editable = readOnly ? [] : (profile.editable || []);
    var inputs = {};
    var fields = PROFILE_FIELDS.map(function (name) {
      var input;
      if (name === 'preferred_language') {
        input = el('select', {name: name, id: 'f-' + name}, ['nl', 'fr', 'en'].map(function (code) {
          return el('option', {value: code, selected: profile[name] === code, text: {nl: 'Nederlands', fr: 'Français', en: 'English'}[code]});
        }));
      } else {
        input = el('input', {name: name, id: 'f-' + name, value: profile[name] || '',
          type: name.indexOf('email') === 0 ? 'email' : (name === 'birth_date' ? 'date' : 'text')});
      }
      if (editable.indexOf(name) < 0) { input.disabled = true; }
      inputs[name] = input;
      return el('div', {'class': 'field'}, [el('label', {'for': 'f-' + name, text: t(name)}), input,
        el('p', {'class': 'field-error', id: 'e-' + name, hidden: true})]);
    });
    var save = el('button', {type: 'submit', 'class': 'primary block', text: t('save')});
    var form = el('form', {'class': 'card form', novalidate: true, on: {submit: function (event) {
      event.preventDefault();
      var changes = {};
      editable.forEach(function (name) {
        var value = inputs[name].value.trim();
        if (value !== (profile[name] || '')) { changes[name] = value === '' ? null : value; }
      });
      form.querySelectorAll('.field-error').forEach(function (n) { n.hidden = true; });
      if (!Object.keys(changes).length) { setStatus(t('saved'), 'ok'); return; }
      save.disabled = true;
      api('PATCH', '/me/profile', changes, {'If-Match': state.profileEtag || '*'}).then(function (result) {
        state.profileEtag = result.response.headers.get('ETag');
        setStatus(t('saved'), 'ok');
        if (changes.preferred_language) { setLanguage(changes.preferred_language); }
        renderProfile(result.data);
      }).catch(function (error) {
        if (error instanceof ApiError && error.status === 412) { setStatus(t('stale'), 'warn'); profileView(); return; }
        var fieldErrors = (error.body && error.body.errors && error.body.errors.json) || {};
        Object.keys(fieldErrors).forEach(function (name) {
          var node = document.getElementById('e-' + name);
          if (node) { node.textContent = [].concat(fieldErrors[name]).join(' '); node.hidden = false; }
        });
        setStatus(Object.keys(fieldErrors).length ? t('fix_errors') : (offline(error) ? t('offline_nothing') : t('error')), 'error');
      }).then(function () { save.disabled = false; });
    }}}, [el('h2', {text: t('your_details')}), el('p', {'class': 'hint', text: t('read_only_hint')})]
      .concat(fields, readOnly ? [] : [save]));
    var orgs = (profile.organisations || []).map(function (org) { return el('li', {text: org.name}); });
    show([form, orgs.length ? el('section', {'class': 'card'}, [el('h2', {text: t('your_organisations')}),
      el('ul', {'class': 'plain'}, orgs)]) : null]);
  }

  // --- notifications ---------------------------------------------------------------------------

  function refreshUnread() {
    if (!state.token) { return; }
    api('GET', '/me/notifications?page_size=1').then(function (result) {
      var count = result.data.unread || 0;
      unreadBadge.textContent = count > 99 ? '99+' : String(count);
      unreadBadge.hidden = count === 0;
    }).catch(function () {});
  }

  function inboxView() {
    loadCached('inbox', '/me/notifications', function (data, fromCache) {
      var items = data.items || [];
      show([
        el('div', {'class': 'list-head'}, [el('h2', {text: t('inbox')}), (!fromCache && data.unread) ? el('button', {
          type: 'button', 'class': 'link', text: t('mark_all_read'), on: {click: function () {
            api('POST', '/me/notifications/read').then(function () { inboxView(); refreshUnread(); });
          }}}) : null]),
      ].concat(items.length ? [el('ul', {'class': 'rows'}, items.map(function (n) {
        return el('li', {'class': 'row-item' + (n.read_at ? '' : ' unread-item'), 'data-id': n.id}, [
          el('a', {href: safeHref(n.url) || '#/inbox', 'class': 'row-link', on: {click: function () {
            if (!n.read_at) { api('POST', '/me/notifications/' + n.id + '/read').then(refreshUnread).catch(function () {}); }
          }}}, [el('strong', {text: n.title}), n.body ? el('p', {text: n.body}) : null,
            el('p', {'class': 'meta', text: formatDate(n.created_at, true)})]),
        ]);
      }))] : [emptyState(t('no_notifications'))]));
    });
  }

  function urlBase64ToBytes(text) {
    var padded = (text + '===='.slice(text.length % 4 || 4)).replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function pushSupported() { return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window; }

  function turnPushOn() {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') { throw new Error('denied'); }
      return Promise.all([navigator.serviceWorker.ready, api('GET', '/push/vapid-public-key')]);
    }).then(function (results) {
      return results[0].pushManager.subscribe({userVisibleOnly: true,
        applicationServerKey: urlBase64ToBytes(results[1].data.public_key)});
    }).then(function (subscription) {
      var json = subscription.toJSON ? subscription.toJSON() : subscription;
      return api('POST', '/me/push-subscriptions', {endpoint: json.endpoint, expirationTime: json.expirationTime || null,
        keys: json.keys});
    }).then(function (result) { store('push.id', String(result.data.id)); });
  }

  function turnPushOff() {
    var id = store('push.id');
    var unsubscribe = navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) { return subscription ? subscription.unsubscribe() : null; }).catch(function () {});
    var forget = id ? api('DELETE', '/me/push-subscriptions/' + id).catch(function () {}) : Promise.resolve();
    return Promise.all([unsubscribe, forget]).then(function () { store('push.id', null); });
  }

  function pushSection() {
    var text = el('p', {id: 'push-state'});
    var button = el('button', {type: 'button', id: 'push-toggle', 'class': 'button'});
    function paint() {
      if (!pushSupported()) { text.textContent = t('push_unsupported'); button.hidden = true; return; }
      if (Notification.permission === 'denied') { text.textContent = t('push_blocked'); button.hidden = true; return; }
      var on = !!store('push.id');
      text.textContent = on ? t('push_on') : t('push_off');
      button.textContent = on ? t('turn_off') : t('turn_on');
      button.hidden = false;
    }
    button.addEventListener('click', function () {
      button.disabled = true;
      (store('push.id') ? turnPushOff() : turnPushOn()).catch(function (error) {
        setStatus(error instanceof ApiError ? t('error') : t('push_blocked'), 'error');
      }).then(function () { button.disabled = false; paint(); });
    });
    paint();
    return el('section', {'class': 'card'}, [el('h2', {text: t('push_device')}), text, button]);
  }

  function preferencesSection() {
    var section = el('section', {'class': 'card'}, [el('h2', {text: t('which_notifications')})]);
    api('GET', '/me/notification-preferences').then(function (result) {
      var table = el('table', {'class': 'prefs'}, [el('thead', {}, [el('tr', {}, [el('th', {}), el('th', {text: t('push')}),
        el('th', {text: t('by_email')})])])]);
      var tbody = el('tbody');
      result.data.preferences.forEach(function (pref) {
        function box(channel) {
          return el('td', {}, [el('input', {type: 'checkbox', checked: pref[channel], 'aria-label': pref.label + ' ' + t(channel === 'push' ? 'push' : 'by_email'),
            'data-type': pref.type, 'data-channel': channel, on: {change: function (event) {
              var change = {type: pref.type};
              change[channel] = event.target.checked;
              api('PUT', '/me/notification-preferences', {preferences: [change]}).then(function () { setStatus(t('saved'), 'ok'); })
                .catch(function () { event.target.checked = !event.target.checked; setStatus(t('error'), 'error'); });
            }}})]);
        }
        tbody.appendChild(el('tr', {}, [el('th', {scope: 'row', text: pref.label}), box('push'), box('email')]));
      });
      table.appendChild(tbody);
      section.appendChild(table);
    }).catch(function () { section.appendChild(el('p', {'class': 'muted', text: t('offline_nothing')})); });
    return section;
  }

  function setLanguage(code) {
    if (!ALL_STRINGS[code]) { return; }
    state.lang = code;
    store('lang', code);
    translatePage();
  }

  function settingsView() {
    var select = el('select', {id: 'language', on: {change: function (event) { setLanguage(event.target.value); settingsView(); }}},
      ['nl', 'fr', 'en'].map(function (code) {
        return el('option', {value: code, selected: state.lang === code, text: {nl: 'Nederlands', fr: 'Français', en: 'English'}[code]});
      }));
    show([
      el('h2', {text: t('settings')}),
      pushSection(),
      preferencesSection(),
      el('section', {'class': 'card'}, [el('label', {'for': 'language', text: t('language')}), select]),
      el('button', {type: 'button', id: 'logout', 'class': 'button danger block', text: t('logout'), on: {click: logout}}),
    ]);
  }

  function logout() {
    var token = state.token;
    var done = function () {
      forgetSession();
      location.hash = '#/login';
      route();
    };
    turnPushOff().then(function () {
      return token ? api('DELETE', '/auth/token') : null;
    }).catch(function () {}).then(done);
  }

  // --- routing -----------------------------------------------------------------------------------

  var ROUTES = {feed: feedView, documents: documentsView, invoices: invoicesView, profile: profileView,
    settings: settingsView, inbox: inboxView};

  function route() {
    var name = (location.hash.replace(/^#\/?/, '').split('/')[0]) || 'feed';
    var loggedIn = !!state.token;
    tabs.hidden = !loggedIn;
    inboxLink.hidden = !loggedIn;
    if (!loggedIn) { setStatus(''); loginView(); return; }
    if (!ROUTES[name]) { name = 'feed'; }
    tabs.querySelectorAll('a').forEach(function (a) {
      if (a.getAttribute('data-tab') === name) { a.setAttribute('aria-current', 'page'); } else { a.removeAttribute('aria-current'); }
    });
    document.getElementById('title').textContent = t(name);
    setStatus('');
    ROUTES[name]();
    view.focus({preventScroll: true});
  }

  window.addEventListener('hashchange', route);
  window.addEventListener('online', function () { setStatus(''); });
  window.addEventListener('offline', function () { setStatus(t('offline'), 'warn'); });

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(document.body.getAttribute('data-sw'), {scope: '/app/'}).catch(function () {});
    navigator.serviceWorker.addEventListener('message', function (event) {
      if (event.data && event.data.type === 'push') {
        refreshUnread();
        if (location.hash.indexOf('#/inbox') === 0) { inboxView(); }
      }
    });
  }

  translatePage();
  route();
  refreshUnread();
}());
