-- The test suite uses its own database next to the application's.
CREATE DATABASE IF NOT EXISTS booking_test;
GRANT ALL PRIVILEGES ON `booking%`.* TO 'booking'@'%';
