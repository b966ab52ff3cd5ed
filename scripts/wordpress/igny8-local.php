<?php
/*
 * Plugin Name: IGNY8 local test site
 * Description: Mail is a no-op on this loopback test site (there is no mail server).
 */
if (!function_exists('wp_mail')) {
    function wp_mail($to, $subject, $message, $headers = '', $attachments = array())
    {
        return true;
    }
}
