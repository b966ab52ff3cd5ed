<?php
// Router for PHP's built-in server in front of Debian's read-only WordPress (test peer only):
// /wp-content/* comes from the writable WP_CONTENT_DIR, static files are served as they are,
// *.php files run, and every other path goes to index.php (pretty permalinks).
$_SERVER['WORDPRESS_CONFIG'] = 'igny8-test';
$igny8_root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$igny8_path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/');
if (strpos($igny8_path, '..') !== false) {
    http_response_code(400);
    return true;
}

if (strncmp($igny8_path, '/wp-content/', 12) === 0) {
    $igny8_file = getenv('IGNY8_WP_CONTENT_DIR') . substr($igny8_path, 11);
    if (!is_file($igny8_file) || preg_match('/\.php[0-9]?$/i', $igny8_file)) {
        http_response_code(404);
        header('Content-Type: text/plain');
        echo "Not found\n";
        return true;
    }
    $igny8_types = ['css' => 'text/css', 'js' => 'application/javascript', 'json' => 'application/json',
        'png' => 'image/png', 'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg', 'gif' => 'image/gif',
        'webp' => 'image/webp', 'svg' => 'image/svg+xml', 'woff2' => 'font/woff2', 'woff' => 'font/woff',
        'txt' => 'text/plain', 'html' => 'text/html', 'pdf' => 'application/pdf'];
    $igny8_ext = strtolower(pathinfo($igny8_file, PATHINFO_EXTENSION));
    header('Content-Type: ' . ($igny8_types[$igny8_ext] ?? (mime_content_type($igny8_file) ?: 'application/octet-stream')));
    header('Content-Length: ' . filesize($igny8_file));
    readfile($igny8_file);
    return true;
}

$igny8_file = $igny8_root . $igny8_path;
if (is_dir($igny8_file)) {
    $igny8_file = rtrim($igny8_file, '/') . '/index.php';
}
if (is_file($igny8_file) && !preg_match('/\.php$/', $igny8_file)) {
    return false;  // a static file of the docroot: the built-in server sends it
}
if (!is_file($igny8_file)) {
    $igny8_file = $igny8_root . '/index.php';
}
$_SERVER['SCRIPT_FILENAME'] = $igny8_file;
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = substr($igny8_file, strlen($igny8_root));
chdir(dirname($igny8_file));
unset($igny8_root, $igny8_path, $igny8_types, $igny8_ext);
require $igny8_file;
