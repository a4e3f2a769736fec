# The handout's TCPServer.py, verbatim but for the port (argv[1], default 0: any) and printing it:
# listen(1), one client at a time, one recv() taken as the whole sentence.
import sys
from socket import *
serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
serverSocket.listen(1)
print('port', serverSocket.getsockname()[1], flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
