#!/usr/bin/php-cgi -dcgi.force_redirect=0
<?php
// The demo app: one page, shown at /, /protected/, /admins/ and /staff/ (demo/run-demo.py
// copies it there). It knows nothing about SAML: mod_auth_saml hands it REMOTE_USER and the
// user's attributes as SAML_* variables, as it would to any CGI, PHP or proxied application.
header('Content-Type: text/html; charset=utf-8');
function h($s) { return htmlspecialchars($s, ENT_QUOTES, 'UTF-8'); }
$user = getenv('REMOTE_USER');
$here = strtok(getenv('REQUEST_URI') ?: '/', '?');
$vars = getenv();
ksort($vars);
?><!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mod_auth_saml demo</title>
<style>
body { font-family: sans-serif; max-width: 52em; margin: 2em auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
nav a { margin-right: 1em; }
</style></head>
<body>
<h1>mod_auth_saml demo</h1>
<nav><a href="/">Home (public)</a><a href="/protected/">Protected</a><a href="/admins/">Admins only</a><a href="/staff/">Staff (Require expr)</a></nav>
<p>This page: <code><?= h($here) ?></code></p>
<?php if ($user): ?>
<p id="user">Logged in as <strong><?= h($user) ?></strong></p>
<h2>Attributes</h2>
<table>
<caption>What the application receives from mod_auth_saml</caption>
<tr><th scope="col">variable</th><th scope="col">value</th></tr>
<?php foreach ($vars as $name => $value):
    if (strpos($name, 'SAML_') !== 0) continue; ?>
<tr><td><code><?= h($name) ?></code></td><td><?= h($value) ?></td></tr>
<?php endforeach; ?>
</table>
<p><a id="logout" href="/saml/logout">Log out</a></p>
<p id="reference">Session reference for the site's administrator: <code><?= h(getenv('SAML_SESSION_INDEX') ?: '-') ?></code>
(on the login's line in the server's error log, with <code>LogLevel auth_saml:info</code>)</p>
<?php else: ?>
<p id="anonymous">You are not logged in.</p>
<p><a id="login" href="/saml/sso?ReturnTo=<?= h(urlencode($here)) ?>">Log in</a></p>
<?php endif; ?>
</body></html>
