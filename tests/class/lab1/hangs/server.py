# Reads once, then waits for a "reply ready" event that no thread ever sets: every client waits.
import sys
import threading
from socket import *
ready = threading.Event()
serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(('', int(sys.argv[1])))
serverSocket.listen(1)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    ready.wait()
    connectionSocket.send(sentence.upper().encode())
    connectionSocket.close()
